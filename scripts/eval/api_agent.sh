#!/bin/sh
# An API model as the multi-round agent: it asks for frames with the same protocol.
RUN=${RUN:-gpt4o_agent} METHOD=frames BACKEND=openai MODEL=${MODEL:-gpt-4o}
. "$(dirname "$0")/common.sh"
