#!/bin/sh
# An API model (GPT-4o by default, or any OpenAI-compatible server via BASE_URL, e.g. `vllm serve`) with
# FRAMES uniform frames in one turn. Needs OPENAI_API_KEY for OpenAI. The seed paper's GPT-4o row.
RUN=${RUN:-gpt4o_uniform_5} METHOD=uniform BACKEND=openai MODEL=${MODEL:-gpt-4o}
. "$(dirname "$0")/common.sh"
