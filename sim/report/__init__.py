"""Reports and generated tables, rendered from Jinja2 templates per medium."""
