#!/bin/sh
# The multi-round agent (MODEL: the base model or a trained checkpoint exported with verl's model merger),
# starting from FRAMES frames and asking for more. The seed paper's Sparse-Video-R1 row.
RUN=${RUN:-agent} METHOD=frames
. "$(dirname "$0")/common.sh"
