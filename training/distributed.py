"""Training on several processes with torchrun: torch.distributed's process group and DistributedDataParallel.

    torchrun --nproc_per_node 2 -m training train --dataset mnist --data-dir ../shared/data/mnist --out runs/vae

torchrun starts the processes and sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `setup` joins
the group (gloo on CPU, NCCL on CUDA). A plain `python -m training train` has no WORLD_SIZE and runs alone, as
before. What the loops (train.py, gan.py, text_train.py) need to know is here: this process's rank, the world size, which
items of an epoch are its own (`epoch_order`: torch.utils.data.DistributedSampler, seeded per epoch, which gives
process r every world-th item of the epoch's shuffled order from r on) and which rows of a global batch
(`World.rows`, the same split). So `--batch-size` is the global batch and the learning rate means what it means in
one process; a plain run takes the same order through the same sampler with one replica. Random draws for a batch
(`World.noise`) are made for the whole global batch by every process, from the same seeded generator, and each keeps
its rows: the processes together draw what one process would.
"""
from __future__ import annotations

import datetime
import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from .config import ConfigError

# How long a process waits in a collective for the others: a lost process ends the run instead of hanging it.
TIMEOUT_S = float(os.environ.get("VAE_EXPLORER_DIST_TIMEOUT_S", "600") or 600)


class ProcessLost(RuntimeError):
    """Under torchrun, another process stopped (or the group timed out); the last checkpoint is kept."""


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, history.json, logs and the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def rows(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's share of a global batch (indices or rows): every size-th from its rank on."""
        return batch[self.rank::self.size]

    def noise(self, batch: int, *shape: int, generator: torch.Generator | None = None, device=None,
              uniform: bool = False) -> torch.Tensor:
        """This process's rows of the noise one process would draw for a whole global batch of `batch` rows: randn
        (or rand, uniform=True) of (batch, *shape), every size-th row from this rank on."""
        draw = torch.rand if uniform else torch.randn
        return self.rows(draw(batch, *shape, generator=generator, device=device))

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """t summed over the processes (all_reduce; every process gets the sum). A plain run: t itself."""
        if self.distributed:
            t = t.clone()
            dist.all_reduce(t)
        return t


def epoch_order(n: int, seed: int, epoch: int, world: World) -> torch.Tensor:
    """This process's indices of an epoch of n items: DistributedSampler(shuffle, seed) after set_epoch(epoch). Each
    process gets ceil(n / size) of them (the order padded with its first items to a multiple of the world size,
    torch's default), so every process takes as many batches; one process gets the whole permutation."""
    sampler = DistributedSampler(range(n), num_replicas=world.size, rank=world.rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.long)


@contextmanager
def stopping_on_lost(world: World, out: Path, *passthrough: type):
    """Around a training loop: under torchrun, a failed collective or torchrun's SIGTERM (another process was lost)
    ends this process with ProcessLost, which names the intact checkpoint (the epoch train_state.json records) and
    the resume command. passthrough: the loop's own errors, raised as they are. At the end, in any case, the
    process leaves the group (rank 0 goes on to evaluate alone)."""
    try:
        yield
    except RuntimeError as e:
        if not world.distributed or isinstance(e, (ProcessLost, *passthrough)):
            raise
        from .checkpoint import STATE_JSON, read_json
        done = read_json(out / STATE_JSON, {}).get("epoch", 0)
        raise ProcessLost(f"training on {world.size} processes stopped: another process was lost or a collective "
                          f"failed ({str(e).splitlines()[0][:200] if str(e) else type(e).__name__}). The last "
                          f"checkpoint (epoch {done}) is intact in {out}; run the same torchrun command with "
                          "--resume to continue.") from e
    finally:
        teardown()


def launched() -> bool:
    """True in a process that torchrun started with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device, batch_size: int) -> World:
    """Join torchrun's process group (once), or World() in a plain run. The global batch must split evenly."""
    if not launched():
        return World()
    size = int(os.environ["WORLD_SIZE"])
    if batch_size % size:
        raise ConfigError(f"--batch-size {batch_size} does not split over {size} processes: it is the global batch, "
                          f"so use a multiple of {size} (for example {max(size, batch_size // size * size)}), or "
                          f"another --nproc_per_node.")
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=TIMEOUT_S))
    world = World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    # When one process fails, torchrun's agent sends the others SIGTERM: raise where the loop is, so that the run
    # ends with its message (train.ProcessLost) rather than a bare signal.
    signal.signal(signal.SIGTERM, _lost)
    if device.type == "cuda":
        torch.cuda.set_device(world.local_rank)
    return world


def device_for(name: torch.device) -> torch.device:
    """Under torchrun on CUDA each process takes the GPU of its LOCAL_RANK."""
    if launched() and name.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return name


def _lost(signum, frame):
    raise RuntimeError("torchrun stopped this process (SIGTERM) because another one failed")


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
