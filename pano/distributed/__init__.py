"""Scale-out on Ray: batches of photospheres and long 360 videos across every GPU (or CPU) of a machine or a
cluster.

A layer above :mod:`pano.filters` and :mod:`pano.video`, below :mod:`pano.commands`. Workers are Ray actors
that hold a filter (or a photo job) built from picklable settings on their own device, one per GPU or CPU
actors sized by cores. Ray is an optional extra (``pip install 'pano[ray]'``): importing this package does not
import it; only :func:`pano.distributed.cluster.import_ray` does, when ``--ray`` is asked for.

- :mod:`pano.distributed.cluster`: join or start a Ray instance, size the workers.
- :mod:`pano.distributed.carried`: files (guide, mask, model) that travel with a job to nodes without them.
- :mod:`pano.distributed.photos`: a batch of photos, inputs and outputs through the object store.
- :mod:`pano.distributed.video`: a video's frames in chunks with warm-up frames and crossfaded overlaps.
"""

from __future__ import annotations

from pano.distributed.carried import CarriedFile, carry_file

__all__ = ["CarriedFile", "carry_file"]
