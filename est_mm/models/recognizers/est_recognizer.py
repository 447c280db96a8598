"""The EST recognizer: any 2D backbone per frame → AA-SFE → EST head (paper Fig. 2)."""
import torch

from mmaction.models.recognizers import BaseRecognizer
from mmaction.registry import MODELS


@MODELS.register_module()
class ESTRecognizer(BaseRecognizer):
    """Runs the backbone on every frame and pools each to one vector before the neck.

    Inputs [N, V·F, 3, H, W] (V views of F = n·J frames, V = 1 in the paper) → per-frame features
    [N·V, F, C] → neck → snippet features [N·V, n, d] → head. The stock ``Recognizer2D`` cannot carry
    this: its neck path iterates over the backbone output as a tuple of stages, while single-output
    backbones (mmaction's ResNet with one ``out_indices``, torchvision, timm) return a bare tensor.
    Any backbone from mmaction2, mmpretrain, timm or torchvision works by config alone.
    """

    def frame_features(self, imgs: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] → globally average-pooled features [B, C]."""
        if self.backbone_from == 'torchvision' and hasattr(self.backbone, 'features'):
            x = self.backbone.features(imgs)
        elif self.backbone_from == 'timm':
            x = self.backbone.forward_features(imgs)
        else:
            x = self.backbone(imgs)
        if isinstance(x, (tuple, list)):
            x = x[-1]
        if getattr(self, 'feature_shape', None) == 'NHWC':
            x = x.permute(0, 3, 1, 2)
        if x.dim() == 4:
            return x.mean((2, 3))
        if x.dim() == 3:  # token sequence [B, L, C]
            return x.mean(1)
        return x.flatten(1)

    def extract_feat(self, inputs: torch.Tensor, stage: str = 'neck', data_samples=None,
                     test_mode: bool = False, return_weights: bool = False):
        """Returns (features of ``stage``, kwargs for the head). ``stage``: 'backbone' → [N·V, F, C],
        'neck' → [N·V, n, d], 'head' → class scores [N·V, K]. With ``return_weights`` the neck
        stage also returns the AA-SFE frame weights [N·V, n, J]."""
        num_frames = self.neck.num_frames
        if inputs.shape[1] % num_frames:
            raise ValueError(f'expected a multiple of {num_frames} frames per sample, '
                             f'got input of shape {tuple(inputs.shape)}')
        x = self.frame_features(inputs.flatten(0, 1))
        x = x.view(-1, num_frames, x.shape[-1])
        kwargs = dict(loss_aux=dict())
        if stage == 'backbone':
            return x, kwargs
        x = self.neck(x, return_weights=return_weights and stage == 'neck')
        if stage == 'neck':
            return x, kwargs
        return self.cls_head(x), kwargs

    def forward_explain(self, inputs: torch.Tensor):
        """Normalised clips [N, F, 3, H, W] (one view each) → (class logits [N, K], AA-SFE frame
        weights [N, n, J], the decoder's attention over the snippets [N, n]). The inference API
        and the ONNX export use this."""
        x = self.frame_features(inputs.flatten(0, 1))
        R, frame_weights = self.neck(x.view(inputs.shape[0], -1, x.shape[-1]), return_weights=True)
        T, snippet_attention = self.cls_head.encode(R)
        return self.cls_head.classifier(T), frame_weights, snippet_attention
