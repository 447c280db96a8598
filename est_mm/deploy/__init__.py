"""Deployment of trained EST models.

* :mod:`est_mm.deploy.onnx_export`: config + checkpoint → ``.onnx`` (normalisation inside the
  graph, the model's :class:`~est_mm.inference_spec.InferenceSpec` in the metadata), verified
  against PyTorch with ONNX Runtime. Command line: ``tools/deployment/export_onnx.py``.
* :mod:`est_mm.deploy.quantize`: the int8 export (ONNX Runtime's static QDQ quantization of the
  backbone, calibrated on face crops, checked against float32 on held-out clips; ``--int8``).
* :mod:`est_mm.deploy.onnx_backend`: :class:`ONNXModel`, which runs such a file with numpy, OpenCV
  and onnxruntime only (no torch, no model code), and :func:`preprocess_clips`, the ONNX side's
  one frame preprocessing; :class:`ONNXParts`, the export's part graphs (backbone, AA-SFE,
  Transformer) that the streaming engine runs. ``import est_mm.deploy`` works without torch.
"""
from .onnx_backend import ONNXModel, ONNXParts, preprocess_clips

__all__ = ['ONNXModel', 'ONNXParts', 'preprocess_clips']
