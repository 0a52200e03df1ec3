#!/bin/sh
# The base model on the whole video, the seed paper's 69% "Full Video" row: Qwen's native video input at
# 1 fps, at most 360 x 420 pixels a frame, greedy, 128 new tokens, as qwen-vl-utils fed it. (The frames as
# separate images instead: `svr1 eval --method whole_video`.)
RUN=${RUN:-qwen_whole_video} METHOD=video
set -- --reply-tokens 128 "$@"
. "$(dirname "$0")/common.sh"
