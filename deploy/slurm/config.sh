# The one file to edit: what every step of the Slurm recipe must agree on, each step's starword
# arguments and each step's resources. Sourced by submit.sh (which passes the resources to sbatch)
# and by each step script (which runs starword with the arguments). The .sbatch files hold neither.
# Steps 1 and 3 run the SAME `starword run` line (the run manifest refuses a shard folder reopened
# with other options); step 1 adds --until concepts.
OUT=/shared/runs/r1                       # on the cluster's shared file system
IMAGES=/shared/datasets/imagenet1k-test
MODEL=/shared/models/clip-vit-base-patch32
SHARDS=16                                 # array tasks of steps 1 and 3 (image shards)
PHRASE_JOBS=4                             # array tasks of step 2 (concept shards; each talks to the LLM)
PHRASES_TOP_K=150                         # SEARLE: phi draws from each image's top 150 concepts
STARWORD=(node /opt/starword/bin/starword.js)   # or (starword) after `npm link`
LOGS=$OUT/logs                            # Slurm's job logs (one per task)

# starword's arguments, per command
# add --oti-pad-to 77 for tokens bit-identical to an unsharded run (slower)
RUN_ARGS=(--images "$IMAGES" --model "$MODEL" --out "$OUT" --shard-count "$SHARDS" --phrases "$OUT/phrases" --threads 8)
# steps 2 and 2b (`starword phrases`); --threads is for 2b's CLIP text features
LLM_ARGS=(--backend completions --n 256 --batch-n 16 --concurrency 8 --threads 8)
# step 4 (`starword phi`); a corpus of fewer images than --batch (256) needs a smaller batch or --keep-last-batch
PHI_ARGS=(--threads 8)
export OPENAI_BASE_URL=http://llm-node:8000/v1 STARWORD_LLM_MODEL=EleutherAI/gpt-neo-2.7B OPENAI_API_KEY=none

# resources per step, passed to sbatch by submit.sh: CPUs, memory and wall time of ONE task
STEP1_CPUS=8;  STEP1_MEM=8G;  STEP1_TIME=24:00:00    # per shard: ingest, embed, concepts
STEP2_CPUS=2;  STEP2_MEM=4G;  STEP2_TIME=48:00:00    # per concept shard: phrases from the LLM
STEP2B_CPUS=8; STEP2B_MEM=8G; STEP2B_TIME=12:00:00   # once: merge the caches, phrase features
STEP3_CPUS=8;  STEP3_MEM=8G;  STEP3_TIME=72:00:00    # per shard: OTI
STEP4_CPUS=8;  STEP4_MEM=16G; STEP4_TIME=24:00:00    # once: merge, phi
SBATCH_ARGS=()                            # given to every sbatch: e.g. (--partition=cpu --account=proj)

# a node-local folder: phrase caches (SQLite) are only ever opened there, never on the shared FS
LOCAL=${SLURM_TMPDIR:-${TMPDIR:-/tmp}}/starword-$(id -un)-${SLURM_JOB_ID:-local}
