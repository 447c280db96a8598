from .heads import ESTHead, SSOPBranch, max_hamming_permutations
from .necks import AASFE
from .recognizers import ESTRecognizer

__all__ = ['AASFE', 'ESTHead', 'ESTRecognizer', 'SSOPBranch', 'max_hamming_permutations']
