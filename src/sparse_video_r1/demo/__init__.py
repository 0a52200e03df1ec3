"""`svr1 demo`: the whole story on the embedded default, on a CPU: data, SFT, GRPO, evaluation, report.

1. the synthetic benchmark and the tiny offline Qwen2.5-VL
2. SFT trajectories played by a mix of players (`svr1 sft-data --policies`), then verl's SFT trainer
   (`sh sft.sh`)
3. GRPO from the SFT checkpoint with verl's trainer (`sh train.sh`), the held-out questions evaluated
   greedily every few steps, then verl's model merger
4. evaluations on held-out questions: uniform-5 and random-5 (the trained weights, one turn), the agent
   after SFT and after SFT+GRPO, the trained agent with requests disabled (5 uniform frames, 1 round),
   and zoom mode after SFT and after SFT+GRPO
5. the report: table, paired comparisons, accuracy against frames, training curves, trajectory pictures

`settings.py` holds every knob, `stages.py` the stages, `console.py` what the console shows (stages and
progress bars; every worker's and engine's output goes to the stage's log file), `run.py` the story.
The default is quick: every stage runs, too briefly to learn. `--learn` trains long enough to learn (see
docs/results.md). Each stage's result is kept in OUT/<stage>-<hash of its settings>/ and reused by a later
run with the same settings, never with others.
"""
