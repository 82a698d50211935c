"""The science core.

numba caches its compiled kernels in the user's cache folder, and LLVM may vectorise loops
over many arrays (``sim.core.numba_cache``).
"""

from sim.core.numba_cache import use_user_cache_dir, vectorize_wide_loops

use_user_cache_dir()
vectorize_wide_loops()
