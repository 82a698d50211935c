"""The science core; numba's compiled-kernel cache goes to the user's cache folder."""

from sim.core.numba_cache import prefer_wide_vectors, use_user_cache_dir

use_user_cache_dir()
prefer_wide_vectors()
