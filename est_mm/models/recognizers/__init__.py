from .est_recognizer import ESTRecognizer

__all__ = ['ESTRecognizer']
