"""360 video and timelapse processing: flow with wrap-around, temporal coherence, resume, the frame loop.

Public API::

    from pano.video import VideoOptions, process_video
    process_video("trip.mp4", filt, "trip_dream.mp4", options=VideoOptions(blend=0.6))
"""

from pano.video.coherence import Carry, carry_previous, flicker, flicker_ratio
from pano.video.flow import equirect_flow, warp_equirect
from pano.video.pipeline import VideoOptions, VideoResult, open_source, process_video
from pano.video.strength import StrengthCurve, parse_keyframes

__all__ = [
    "Carry",
    "StrengthCurve",
    "VideoOptions",
    "VideoResult",
    "carry_previous",
    "equirect_flow",
    "flicker",
    "flicker_ratio",
    "open_source",
    "parse_keyframes",
    "process_video",
    "warp_equirect",
]
