"""Deployment of trained EST models.

* :mod:`est_mm.deploy.onnx_export`: config + checkpoint → ``.onnx`` (normalisation inside the
  graph, class names / frame size / sampling in the metadata), verified against PyTorch with ONNX
  Runtime. Command line: ``tools/deployment/export_onnx.py``.
* :mod:`est_mm.deploy.onnx_backend`: :class:`ONNXModel`, which runs such a file with numpy, OpenCV
  and onnxruntime only (no torch, no model code).
"""
from .onnx_backend import ONNXModel

__all__ = ['ONNXModel']
