# What every step of the Slurm recipe must agree on; sourced by submit.sh and each step script.
# Steps 1 and 3 run the SAME `starword run` line (the run manifest refuses a shard folder reopened
# with other options); step 1 adds --until concepts.
OUT=/shared/runs/r1                       # on the cluster's shared file system
IMAGES=/shared/datasets/imagenet1k-test
MODEL=/shared/models/clip-vit-base-patch32
SHARDS=16
PHRASE_JOBS=4
PHRASES_TOP_K=150                         # SEARLE: phi draws from each image's top 150 concepts
STARWORD=(node /opt/starword/bin/starword.js)   # or (starword) after `npm link`
# add --oti-pad-to 77 for tokens bit-identical to an unsharded run (slower)
RUN_ARGS=(--images "$IMAGES" --model "$MODEL" --out "$OUT" --shard-count "$SHARDS" --phrases "$OUT/phrases" --threads 8)
LLM_ARGS=(--backend completions --n 256 --batch-n 16 --concurrency 8)
export OPENAI_BASE_URL=http://llm-node:8000/v1 STARWORD_LLM_MODEL=EleutherAI/gpt-neo-2.7B OPENAI_API_KEY=none
# a node-local folder: phrase caches (SQLite) are only ever opened there, never on the shared FS
LOCAL=${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/starword-$(id -un)-${SLURM_JOB_ID:-local}
