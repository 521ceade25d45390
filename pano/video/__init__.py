"""360 video and timelapse processing: flow with wrap-around, temporal coherence, resume, the frame loop."""
