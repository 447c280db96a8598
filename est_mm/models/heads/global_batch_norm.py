"""BatchNorm1d whose training statistics span every process of a distributed run (the SSOP
branch's BatchNorm, so one clip per process trains like the paper's single batch of 8)."""
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.dist import get_world_size


_GROUPS = {}


def _bn_group():
    """A process group of all ranks used only for these statistics, so their all-reduces never
    interleave with DDP's gradient all-reduces on the default group (gloo aborts on that)."""
    key = id(dist.group.WORLD)
    if key not in _GROUPS:
        _GROUPS.clear()
        _GROUPS[key] = dist.new_group(ranks=list(range(dist.get_world_size())))
    return _GROUPS[key]


class _AllReduceSum(torch.autograd.Function):
    """Differentiable sum over all processes: forward and backward are both an all-reduce (SUM)
    of the tensor (the backward sums every process's gradient of its own loss)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.clone()
        dist.all_reduce(tensor, group=_bn_group())
        return tensor

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=_bn_group())
        return grad


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of ``tensor`` over all processes (same shape), with gradients."""
    return _AllReduceSum.apply(tensor)


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """nn.BatchNorm1d ([N, C] or [N, C, L]) whose training-mode statistics are those of the
    global batch when torch.distributed runs with more than one process.

    Then the batch mean and biased variance come from differentiable all-reduces of the
    per-process [sum, count] and sum of squared deviations (two passes, numerically like a
    single-process BatchNorm), ranks may hold different N (even 0), and running_mean /
    running_var (unbiased) / num_batches_tracked update exactly as nn.BatchNorm1d's on the
    concatenated batch. In eval mode, or with one process, it is nn.BatchNorm1d. Same parameters,
    buffers and state-dict keys as nn.BatchNorm1d. torch's nn.SyncBatchNorm does the same on GPUs
    only (on CPU it raises "SyncBatchNorm expected input tensor to be on GPU", torch 2.14).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        world = get_world_size()
        if not self.training or world == 1:
            return super().forward(x)
        self._check_input_dim(x)
        C = self.num_features
        dims = [0] + list(range(2, x.dim()))  # every dim but the channel one
        shape = [1, C] + [1] * (x.dim() - 2)
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        local = torch.cat([xf.sum(dims), xf.new_full((1, ), xf.numel() // max(C, 1))])
        total = all_reduce_sum(local)  # [C + 1]: global sum per channel, global count
        count = total[C].detach()
        n = int(count.item())
        if n <= 1:
            raise ValueError(f'Expected more than 1 value per channel when training, got {n} '
                             f'over {world} processes (input size {list(x.shape)} here)')
        mean = total[:C] / count
        var = all_reduce_sum(((xf - mean.view(shape))**2).sum(dims)) / count  # biased
        out = (xf - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            self._update_running_stats(mean.detach(), var.detach() * (n / (n - 1)))
        return out

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        """running = (1 - f) × running + f × batch, f = momentum (or 1 / batches seen when
        momentum is None), as nn.BatchNorm1d does."""
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased_var.to(self.running_var.dtype),
                                               alpha=factor)
