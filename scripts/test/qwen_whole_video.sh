#!/bin/sh
# The base model on the whole video: frames at 1 fps, capped at 64. The seed paper's 69% row.
RUN=${RUN:-qwen_whole_video} METHOD=whole_video
. "$(dirname "$0")/common.sh"
