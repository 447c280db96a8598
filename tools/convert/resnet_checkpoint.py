"""Convert a third-party ResNet checkpoint (e.g. a face-pretrained ResNet-18 saved with DataParallel)
into the plain torchvision layout, for ``model.backbone.pretrained=<out>`` in our configs."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402

import est_mm  # noqa: E402,F401  (safe-loading globals)
from est_mm.utils import torchvision_resnet_state_dict  # noqa: E402


def main():
    parser = argparse.ArgumentParser(
        description='Write a clean torchvision-layout ResNet state dict: unwraps "state_dict"/'
        '"model" containers, strips "module."/"backbone." prefixes, drops the fc classifier. '
        'Loads with torch\'s safe (weights_only) loading: a checkpoint that pickles code or '
        'arbitrary objects is refused.')
    parser.add_argument('src', help='input checkpoint (.pth / .pth.tar)')
    parser.add_argument('dst', help='output .pth (a torchvision-layout state dict)')
    parser.add_argument('--overwrite', action='store_true', help='replace dst if it exists')
    args = parser.parse_args()
    if osp.exists(args.dst) and not args.overwrite:
        raise SystemExit(f'{args.dst} exists; pass --overwrite to replace it')
    try:
        checkpoint = torch.load(args.src, map_location='cpu')
    except Exception as err:  # noqa: BLE001 - report any load failure in one line
        raise SystemExit(f'{args.src}: cannot be loaded safely: {str(err).splitlines()[0]}')
    try:
        state = torchvision_resnet_state_dict(checkpoint, args.src)
    except ValueError as err:
        raise SystemExit(str(err))
    tmp = args.dst + '.tmp'
    torch.save(state, tmp)
    os.replace(tmp, args.dst)
    print(f'{args.dst}: {len(state)} tensors '
          f'({sum(v.numel() for v in state.values()) / 1e6:.2f} M values)')


if __name__ == '__main__':
    main()
