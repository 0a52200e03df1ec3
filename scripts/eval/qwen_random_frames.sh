#!/bin/sh
# The base model with FRAMES random frames (seeded: --seed), one turn. The seed paper's 50% row.
RUN=${RUN:-qwen_random_5} METHOD=random
. "$(dirname "$0")/common.sh"
