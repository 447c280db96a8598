"""Convert the authors' released EST checkpoint (github DreamMr/EST) into an est_mm checkpoint that
tools/test.py, tools/demo.py, ESTInferencer and tools/deployment/export_onnx.py take as it is."""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args():
    parser = argparse.ArgumentParser(
        description="Convert the authors' EST checkpoint ({'epoch', 'state_dict', 'prec1'}, keys "
        "with DataParallel's 'module.' prefix) into an est_mm checkpoint. Every official tensor is "
        'mapped to one est_mm parameter or checked (the positional table must equal est_mm\'s); '
        'the classifier rows are re-ordered from the official alphabetical classes (Angry, '
        "Disgust, Fear, Happy, Neutral, Sad, Surprise) to the config's class order; the output's "
        "meta carries the classes and test sampling. Read with torch's safe loading. On any "
        'unexpected, missing or mis-shaped key nothing is written. For the authors\' '
        'face-pretrained ResNet-18 (backbone only) use tools/convert/resnet_checkpoint.py.')
    parser.add_argument('src', help="the authors' checkpoint (e.g. the DFEW EST-R18 .pth / .tar)")
    parser.add_argument('dst', help='output est_mm checkpoint (.pth)')
    parser.add_argument('--config', default='configs/est_r18_dfew.py',
                        help='est_mm config the checkpoint is for (model and class order); '
                        'default: %(default)s')
    parser.add_argument('--trained-on', default='DFEW', choices=['DFEW', 'AFEW', 'MMI', 'BU3D'],
                        help='the dataset the authors trained the checkpoint on, which fixes the '
                        'order of its classifier rows (their released model: DFEW; MMI and BU3D '
                        'models score 6 classes); default: %(default)s')
    parser.add_argument('--overwrite', action='store_true', help='replace dst if it exists')
    return parser.parse_args()


def main():
    args = parse_args()
    from est_mm.convert.official_est import CONVERT_ERRORS, convert_official_file
    from est_mm.utils.config import ConfigError, load_config
    try:
        load_config(args.config)  # one line for a --config that is not a model config
        print(convert_official_file(args.src, args.dst, args.config, args.trained_on,
                                    args.overwrite))
    except (*CONVERT_ERRORS, ConfigError) as err:
        raise SystemExit(str(err))


if __name__ == '__main__':
    main()
