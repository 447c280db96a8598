from .aa_sfe import AASFE

__all__ = ['AASFE']
