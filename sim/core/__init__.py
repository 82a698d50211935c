"""The science core; numba's compiled-kernel cache goes to the user's cache folder."""

from sim.core.numba_cache import use_user_cache_dir

use_user_cache_dir()
