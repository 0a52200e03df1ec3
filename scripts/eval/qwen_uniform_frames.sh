#!/bin/sh
# The base model with FRAMES uniformly spaced frames, one turn.
RUN=${RUN:-qwen_uniform_5} METHOD=uniform
. "$(dirname "$0")/common.sh"
