"""Convert a third-party ResNet checkpoint (e.g. a face-pretrained ResNet-18 saved with DataParallel)
into the plain torchvision layout, for ``model.backbone.pretrained=<out>`` in our configs."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


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
    import est_mm  # noqa: F401  (safe-loading globals)
    from est_mm.utils.checkpoint import convert_resnet_file
    try:
        print(convert_resnet_file(args.src, args.dst, args.overwrite))
    except (FileExistsError, ValueError) as err:
        raise SystemExit(str(err))


if __name__ == '__main__':
    main()
