from .transformer import SnippetTransformer, sine_positional_encoding

__all__ = ['SnippetTransformer', 'sine_positional_encoding']
