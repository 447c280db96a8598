"""Checkpoint key layouts written by other libraries."""


def tv_to_mmaction(name):
    """torchvision ResNet key → mmaction2 ResNet key (conv/bn wrapped in ConvModule)."""
    parts = name.split('.')
    if parts[0] == 'conv1':
        return 'conv1.conv.' + parts[1]
    if parts[0] == 'bn1':
        return 'conv1.bn.' + parts[1]
    if 'downsample' in parts:
        i = parts.index('downsample')
        return '.'.join(parts[:i + 1] + [('conv', 'bn')[int(parts[i + 1])]] + parts[i + 2:])
    layer, block, mod, attr = parts
    kind, idx = mod[:-1], mod[-1]
    return f'{layer}.{block}.conv{idx}.{"conv" if kind == "conv" else "bn"}.{attr}'
