from .est_head import ESTHead
from .ssop import SSOPBranch, max_hamming_permutations

__all__ = ['ESTHead', 'SSOPBranch', 'max_hamming_permutations']
