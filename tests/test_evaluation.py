"""FERConfusionMatrix: confusion matrix, per-class recall, UAR, report files (PNG/CSV/JSON)."""
import csv
import json
import logging
import math
import os
import os.path as osp
import socket
import time
import uuid
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import est_mm  # noqa: F401  (registers est_mm components, applies compat)
from est_mm.engine import FERReportHook
from est_mm.evaluation import FERConfusionMatrix, write_fer_report
from mmaction.evaluation import AccMetric, ConfusionMatrix
from mmaction.structures import ActionDataSample
from mmengine.logging import MMLogger

CLASSES = ('Happy', 'Sad', 'Angry')
REPORT = ('confusion_matrix.png', 'confusion_matrix.csv', 'fer_report.json')


def one_hot_scores(pred, num_classes, noise=0.0, seed=0):
    """Scores whose argmax is ``pred`` (random below the max when ``noise``)."""
    rng = np.random.default_rng(seed)
    scores = rng.random((len(pred), num_classes)) * noise
    scores[np.arange(len(pred)), pred] = 1.0 + noise
    return torch.from_numpy(scores).float()


def make_samples(gt, scores):
    return [ActionDataSample().set_gt_label(int(y)).set_pred_score(s) for y, s in zip(gt, scores)]


def evaluate(metric, samples, classes=None):
    if classes is not None:
        metric.dataset_meta = dict(classes=classes)
    metric.process(None, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def evaluate_and_write(metric, samples, classes=None, log_dir=None):
    """evaluate, then what FERReportHook does after a test epoch of a run logging to
    ``log_dir`` (here without a Runner: the loop and runner attributes it reads)."""
    metrics = evaluate(metric, samples, classes)
    loop = SimpleNamespace(evaluator=SimpleNamespace(metrics=[metric]))
    FERReportHook().after_test_epoch(SimpleNamespace(log_dir=log_dir, test_loop=loop), metrics)
    return metrics


def acc_metric(samples):
    metric = AccMetric(metric_list=('top_k_accuracy', 'mean_class_accuracy'),
                       metric_options=dict(top_k_accuracy=dict(topk=(1, ))))
    return evaluate(metric, samples)


@contextmanager
def captured_warnings():
    """Messages that reach the current MMLogger (where print_log(logger='current') goes)."""
    logger = MMLogger.get_current_instance()
    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


# Hand-made case: rows = true class, columns = predicted.
GT = [0, 0, 0, 0, 1, 1, 2, 2]
PRED = [0, 0, 0, 1, 1, 2, 2, 0]
MATRIX = [[3, 1, 0], [0, 1, 1], [1, 0, 1]]
RECALL = {'Happy': 0.75, 'Sad': 0.5, 'Angry': 0.5}
WAR, UAR = 5 / 8, (0.75 + 0.5 + 0.5) / 3


def test_registered_and_subclass():
    from mmaction.registry import METRICS
    metric = METRICS.build(dict(type='FERConfusionMatrix', save_files=False))
    assert isinstance(metric, FERConfusionMatrix) and isinstance(metric, ConfusionMatrix)


def test_hand_made_case_metrics_and_files(tmp_path):
    samples = make_samples(GT, one_hot_scores(PRED, 3, noise=0.5))
    metric = FERConfusionMatrix(out_dir=str(tmp_path / 'report'))
    metrics = evaluate_and_write(metric, samples, CLASSES)

    expected = {'fer/war': WAR, 'fer/uar': UAR,
                **{f'fer/recall/{k}': v for k, v in RECALL.items()}}
    assert metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert isinstance(metrics[key], float) and metrics[key] == pytest.approx(value), key
    acc = acc_metric(samples)
    assert acc['acc/top1'] == pytest.approx(WAR) and acc['acc/mean1'] == pytest.approx(UAR)

    out = tmp_path / 'report'
    assert sorted(os.listdir(out)) == sorted(REPORT)
    with open(out / 'confusion_matrix.csv', newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['true\\pred', *CLASSES]
    assert [r[0] for r in rows[1:]] == list(CLASSES)
    assert [[int(v) for v in r[1:]] for r in rows[1:]] == MATRIX

    report = json.loads((out / 'fer_report.json').read_text())
    assert report['classes'] == list(CLASSES) and report['num_samples'] == 8
    assert report['confusion_matrix'] == MATRIX
    assert report['war'] == pytest.approx(WAR) and report['uar'] == pytest.approx(UAR)
    assert report['recall'] == pytest.approx(RECALL)
    assert report['support'] == {'Happy': 4, 'Sad': 2, 'Angry': 2}
    expected_norm = np.array(MATRIX) / np.array([4, 2, 2])[:, None]
    np.testing.assert_allclose(report['confusion_matrix_normalized'], expected_norm)

    png = out / 'confusion_matrix.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 10_000
    import matplotlib.image as mpimg
    image = mpimg.imread(str(png))
    assert image.ndim == 3 and min(image.shape[:2]) >= 300
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_class_names_fall_back_to_indices_and_pred_label_input():
    # pred_label instead of pred_score: num_classes from the constructor.
    samples = [ActionDataSample().set_gt_label(y).set_pred_label(p) for y, p in zip(GT, PRED)]
    metric = FERConfusionMatrix(num_classes=4, save_files=False)
    metrics = evaluate(metric, samples)
    assert metrics['fer/recall/0'] == 0.75 and math.isnan(metrics['fer/recall/3'])
    assert metric.last_report['classes'] == ['0', '1', '2', '3']
    assert metric.last_report['confusion_matrix'] == [row + [0] for row in MATRIX] + [[0] * 4]

    bad = [ActionDataSample().set_gt_label(5).set_pred_label(0)]
    with pytest.raises(ValueError, match='gt_label outside'):
        evaluate(FERConfusionMatrix(num_classes=4, save_files=False), bad)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_uar_and_war_equal_accmetric_on_random_predictions(seed):
    rng = np.random.default_rng(seed)
    num_classes, n = 7, 300
    gt = rng.permutation(np.arange(n) % num_classes)  # every class present
    scores = torch.from_numpy(rng.random((n, num_classes))).float()
    scores[np.arange(n), gt] += 0.3  # better than chance, unequal per class
    samples = make_samples(gt, scores)
    ours = evaluate(FERConfusionMatrix(save_files=False), samples)
    acc = acc_metric(samples)
    assert 0.2 < acc['acc/mean1'] < 0.95
    assert ours['fer/uar'] == pytest.approx(acc['acc/mean1'], abs=1e-12)
    assert ours['fer/war'] == pytest.approx(acc['acc/top1'], abs=1e-12)
    pred = scores.argmax(1).numpy()
    for c in range(num_classes):
        assert ours[f'fer/recall/{c}'] == pytest.approx((pred[gt == c] == c).mean())


def test_class_missing_from_ground_truth(tmp_path):
    classes = ('Happy', 'Sad', 'Angry', 'Fear')  # no 'Fear' sample
    # (a) 'Fear' never predicted: NaN recall, UAR over the 3 present classes == acc/mean1.
    samples = make_samples(GT, one_hot_scores(PRED, 4))
    metric = FERConfusionMatrix(out_dir=str(tmp_path))
    ours = evaluate_and_write(metric, samples, classes)
    assert math.isnan(ours['fer/recall/Fear'])
    assert ours['fer/uar'] == pytest.approx(UAR)
    assert ours['fer/uar'] == pytest.approx(acc_metric(samples)['acc/mean1'])
    report = json.loads((tmp_path / 'fer_report.json').read_text())  # strict JSON: null, not NaN
    assert report['recall']['Fear'] is None and report['support']['Fear'] == 0
    assert report['confusion_matrix_normalized'][3] == [None] * 4
    assert (tmp_path / 'confusion_matrix.png').stat().st_size > 10_000

    # (b) 'Fear' predicted once: our UAR still averages the present classes; mmaction2's
    # mean_class_accuracy also averages in 'Fear' with recall 0 (documented difference).
    pred = list(PRED)
    pred[0] = 3  # a Happy sample predicted as Fear
    samples = make_samples(GT, one_hot_scores(pred, 4))
    ours = evaluate(FERConfusionMatrix(save_files=False), samples, classes)
    present = [2 / 4, 1 / 2, 1 / 2]
    assert math.isnan(ours['fer/recall/Fear'])
    assert ours['fer/uar'] == pytest.approx(np.mean(present))
    assert acc_metric(samples)['acc/mean1'] == pytest.approx(sum(present) / 4)


def test_existing_files_get_a_numeric_suffix_unless_overwrite(tmp_path):
    out = tmp_path / 'out'
    first = make_samples(GT, one_hot_scores(PRED, 3))
    evaluate_and_write(FERConfusionMatrix(out_dir=str(out)), first, CLASSES)
    original = {name: (out / name).read_bytes() for name in REPORT}

    second = make_samples(GT, one_hot_scores(GT, 3))  # all correct
    with captured_warnings() as messages:
        for n in (1, 2):
            metric = FERConfusionMatrix(out_dir=str(out))
            evaluate_and_write(metric, second, CLASSES)
            assert [osp.basename(p) for p in metric.last_report_paths] == [
                f'confusion_matrix_{n}.png', f'confusion_matrix_{n}.csv', f'fer_report_{n}.json']
    assert len(messages) == 2 and 'overwrite=False' in messages[0] and '\n' not in messages[0]
    assert {name: (out / name).read_bytes() for name in REPORT} == original
    assert json.loads((out / 'fer_report_2.json').read_text())['war'] == 1.0

    # A suffix is chosen only when none of its three names exists.
    (out / 'fer_report_3.json').write_text('{}')
    metric = FERConfusionMatrix(out_dir=str(out))
    evaluate_and_write(metric, second, CLASSES)
    assert osp.basename(metric.last_report_paths[0]) == 'confusion_matrix_4.png'

    metric = FERConfusionMatrix(out_dir=str(out), overwrite=True)
    evaluate_and_write(metric, second, CLASSES)
    assert [osp.basename(p) for p in metric.last_report_paths] == list(REPORT)
    assert json.loads((out / 'fer_report.json').read_text())['war'] == 1.0
    assert len(os.listdir(out)) == 3 * 4 + 1


def test_the_metric_writes_no_file_and_the_hook_writes_into_the_log_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / 'out'
    metric = FERConfusionMatrix(out_dir=str(out))
    metrics = evaluate(metric, make_samples(GT, one_hot_scores(PRED, 3)), CLASSES)
    assert metrics['fer/uar'] == pytest.approx(UAR)
    assert metric.last_report_paths == [] and os.listdir(tmp_path) == []
    assert write_fer_report(metric.last_report, str(out)) == [str(out / f) for f in REPORT]

    log_dir = tmp_path / 'work' / '20261128_101500'
    metric = FERConfusionMatrix()  # no out_dir: the run's log folder
    evaluate_and_write(metric, make_samples(GT, one_hot_scores(PRED, 3)), CLASSES, str(log_dir))
    assert metric.last_report_paths == [str(log_dir / f) for f in REPORT]
    assert json.loads((log_dir / 'fer_report.json').read_text())['confusion_matrix'] == MATRIX
    quiet = FERConfusionMatrix(save_files=False)
    evaluate_and_write(quiet, make_samples(GT, one_hot_scores(PRED, 3)), CLASSES, str(tmp_path))
    assert quiet.last_report_paths == [] and sorted(os.listdir(tmp_path)) == ['out', 'work']


# ------------------------------------------------------------------------- Runner test loop
RUNNER_GT = [0, 1, 2, 2, 1, 0]
RUNNER_PRED = [0, 1, 2, 0, 1, 1]


class TinyDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=CLASSES)

    def __len__(self):
        return len(RUNNER_GT)

    def __getitem__(self, idx):
        return dict(inputs=torch.tensor([idx]),
                    data_samples=ActionDataSample().set_gt_label(RUNNER_GT[idx]))


@pytest.mark.parametrize('loop', ['test', 'val'])
def test_runner_loop_writes_into_the_run_log_dir(tmp_path, loop):
    from mmengine.dataset import pseudo_collate
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class FixedModel(BaseModel):
        def __init__(self):
            super().__init__()
            self.scores = torch.nn.Parameter(one_hot_scores(RUNNER_PRED, 3), requires_grad=False)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            for idx, sample in zip(inputs, data_samples):
                sample.set_pred_score(self.scores[int(idx)])
            return data_samples

    loader = torch.utils.data.DataLoader(TinyDataset(), batch_size=4, collate_fn=pseudo_collate)
    evaluator = [
        dict(type='AccMetric', metric_list=('top_k_accuracy', 'mean_class_accuracy'),
             metric_options=dict(top_k_accuracy=dict(topk=(1, )))),
        dict(type='FERConfusionMatrix')]
    runner = Runner(
        model=FixedModel(), work_dir=str(tmp_path), default_scope='mmaction',
        experiment_name=f'fer_{loop}_{uuid.uuid4().hex}',  # its own logger (tmp_path names recur)
        custom_hooks=[dict(type='FERReportHook')],  # as configs/_base_/default_runtime.py
        **{f'{loop}_dataloader': loader, f'{loop}_evaluator': evaluator,
           f'{loop}_cfg': dict(type=f'{loop.capitalize()}Loop')})
    metrics = runner.test() if loop == 'test' else runner.val()

    assert metrics['fer/war'] == pytest.approx(4 / 6) == metrics['acc/top1']
    assert metrics['fer/uar'] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert metrics['fer/uar'] == pytest.approx(metrics['acc/mean1'])
    assert metrics['fer/recall/Sad'] == 1.0
    log_dir = runner.log_dir
    assert osp.dirname(log_dir) == str(tmp_path) and log_dir != str(tmp_path)
    for name in REPORT:
        assert osp.isfile(osp.join(log_dir, name)), name
    report = json.load(open(osp.join(log_dir, 'fer_report.json')))
    assert report['confusion_matrix'] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    with open(osp.join(log_dir, f'{runner.timestamp}.log')) as f:
        assert 'fer/uar: 0.6667' in f.read()


# ------------------------------------------------------------------------- distributed (gloo)
def _dist_worker(rank, world_size, port, out_dir, collect_dir, queue):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        samples = make_samples(GT, one_hot_scores(PRED, 3))
        metric = FERConfusionMatrix(out_dir=out_dir, collect_dir=collect_dir)
        metric.dataset_meta = dict(classes=CLASSES)
        # Each rank processes its own shard, as with a DistributedSampler.
        metric.process(None, [s.to_dict() for s in samples[rank::world_size]])
        metrics = metric.evaluate(len(samples))
        loop = SimpleNamespace(evaluator=SimpleNamespace(metrics=[metric]))
        FERReportHook().after_test_epoch(SimpleNamespace(log_dir=None, test_loop=loop), metrics)
        queue.put((rank, metrics, metric.last_report_paths))
    finally:
        dist.destroy_process_group()


def test_distributed_results_collected_and_files_written_once(tmp_path):
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = mp.get_context('fork')  # children reuse the imports: ~1 s, not ~10 s
    queue = ctx.SimpleQueue()
    out_dir = str(tmp_path / 'out')
    procs = mp.start_processes(_dist_worker, nprocs=2, join=False, start_method='fork',
                               args=(2, port, out_dir, str(tmp_path / 'collect'), queue))
    deadline = time.monotonic() + 120
    while not procs.join(timeout=1):
        if time.monotonic() > deadline:
            for p in procs.processes:
                p.terminate()
            pytest.fail('distributed workers did not finish in 120 s')
    got = dict((rank, (metrics, paths)) for rank, metrics, paths in
               (queue.get() for _ in range(2)))
    for rank in (0, 1):  # all 8 samples counted, metrics broadcast to every rank
        assert got[rank][0]['fer/war'] == pytest.approx(WAR)
        assert got[rank][0]['fer/uar'] == pytest.approx(UAR)
    assert len(got[0][1]) == 3 and got[1][1] == []  # only rank 0 wrote
    assert sorted(os.listdir(out_dir)) == sorted(REPORT)  # once: no suffixed second set
    assert json.load(open(osp.join(out_dir, 'fer_report.json')))['confusion_matrix'] == MATRIX
