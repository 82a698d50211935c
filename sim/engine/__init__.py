"""Running many simulations: executors, tasks, budgets and the result store."""
