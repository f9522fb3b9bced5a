#!/usr/bin/env bash
# Runs a catalogue of hostile and extreme inputs through a `dato` binary and sorts the outcomes:
#   ok        the command behaved (a clear error and a non-zero exit for bad input, exit 0 for valid input)
#   CRASH     killed by a signal (a Swift runtime trap, SIGSEGV, an allocation abort)
#   HANG      still running after the time limit
#   ACCEPTED  exited 0 on input it should have refused
#   REFUSED   a non-zero exit on valid input
#   (cases marked "any" may either work or be refused; only a crash or a hang fails them)
#   HARM      touched what is not ours (a device node or FIFO replaced, a foreign database changed)
#
# Usage: tools/hostile/run.sh [path/to/dato] [seconds per case]
#   (default: .build/release/dato, 60 s). Build it first: swift build -c release --product dato
# Needs only bash, coreutils, sqlite3 is optional (its cases are skipped without it). Prints one line per
# case and a closing "N passed, N failed" line; exits 1 when any case failed. Every file it makes is under
# a temporary folder that it removes at the end.
set -uo pipefail

dato=$(realpath "${1:-.build/release/dato}")
limit=${2:-60}
[ -x "$dato" ] || { echo "no dato binary at $dato (swift build -c release --product dato)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
demo="$root/Sources/DatoDemo/Resources/demo-model"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2

passed=0; failed=0
declare -a failures=()

# record NAME VERDICT DETAIL
record() {
  if [ "$2" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$2 $1: $3"); fi
  printf '%-9s %-44s %s\n' "$2" "$1" "$3"
}

# verdict EXPECT(error|ok|any) RC -> prints ok / CRASH / HANG / ACCEPTED / REFUSED
verdict() {
  local expect=$1 rc=$2
  if [ "$rc" -eq 124 ]; then echo HANG
  elif [ "$rc" -ge 128 ]; then echo CRASH
  elif [ "$expect" = error ] && [ "$rc" -eq 0 ]; then echo ACCEPTED
  elif [ "$expect" = ok ] && [ "$rc" -ne 0 ]; then echo REFUSED
  else echo ok; fi
}

# case NAME EXPECT(error|ok|any) ARGS... : runs dato with a time limit, keeping the last line of its error output
case_() {
  local name=$1 expect=$2; shift 2
  # (the subshell keeps bash's own "Illegal instruction" notices out of the listing)
  ( timeout -k 5 "$limit" "$dato" "$@" >"$work/out.txt" 2>"$work/err.txt" </dev/null; exit $? ) 2>/dev/null
  local rc=$?
  local detail
  detail="rc=$rc $(tail -c 300 "$work/err.txt" | tr '\n' ' ' | cut -c1-110)"
  record "$name" "$(verdict "$expect" "$rc")" "$detail"
}

# A writable copy of the demo model; EDIT is a sed expression applied to FILE inside it.
model_with() {
  local name=$1 file=$2 edit=$3
  rm -rf "$work/m-$name"; cp -r "$demo" "$work/m-$name"
  sed -i -e "$edit" "$work/m-$name/$file"
  echo "$work/m-$name"
}

# Little-endian 8-byte length followed by a JSON header and DATA_BYTES zero bytes.
safetensors() {
  local out=$1 header=$2 data_bytes=${3:-0} length=${4:-}
  [ -n "$length" ] || length=${#header}
  printf "$(printf '%016x' "$length" | sed -E 's/(..)(..)(..)(..)(..)(..)(..)(..)/\\x\8\\x\7\\x\6\\x\5\\x\4\\x\3\\x\2\\x\1/')" >"$out"
  printf '%s' "$header" >>"$out"
  head -c "$data_bytes" /dev/zero >>"$out"
}

gen=(generate -p "a small red circle on a blue background" -s 7 --steps 3)

echo "# dato: $dato"
echo "# valid input (must work)"
case_ "demo model, 3 steps" ok "${gen[@]}" -o "$work/ok.png"
case_ "seed -1 picks one" ok generate -p "a red circle" -s -1 --steps 2 -o "$work/ok2.png"
case_ "250-byte output name" ok "${gen[@]}" -o "$work/$(printf 'a%.0s' $(seq 246)).png"
case_ "plan with levels=0+1" ok "${gen[@]}" --accel "dato:0.4,levels=0+1" -o "$work/ok3.png"
case_ "deepcache nonuniform, 10 steps" ok generate -p "a red circle" -s 1 --steps 10 --accel "deepcache:2,nonuniform" -o "$work/ok4.png"
case_ "1000 steps with steps_offset 1" any generate -p "a red circle" -s 1 --steps 1000 --scheduler ddim -o "$work/ok5.png"

echo "# generation settings"
case_ "cfg-scale 1e38" error "${gen[@]}" --cfg-scale 1e38 -o "$work/e.png"
case_ "cfg-scale nan" error "${gen[@]}" --cfg-scale nan -o "$work/e.png"
case_ "ddim eta 1e10" error "${gen[@]}" --scheduler ddim --eta 1e10 -o "$work/e.png"
case_ "steps 0" error generate -p x --steps 0 -o "$work/e.png"
case_ "steps 100000" error generate -p x --steps 100000 -o "$work/e.png"
case_ "width 7" error "${gen[@]}" -W 7 -o "$work/e.png"
case_ "width 2^40" error "${gen[@]}" -W 1099511627776 -o "$work/e.png"
case_ "batch-count 0" error "${gen[@]}" -b 0 -o "$work/e.png"
case_ "threads 0" error "${gen[@]}" -t 0 -o "$work/e.png"
case_ "unknown scheduler" error "${gen[@]}" --scheduler nope -o "$work/e.png"
case_ "missing model folder" error "${gen[@]}" -m "$work/nothing" -o "$work/e.png"
case_ "prompt file is a directory" error generate --prompt-file "$work" -o "$work/e.png"

echo "# plans"
for plan in "deepcache:3,=" "deepcache:0" "deepcache:-1" "deepcache:99999999999999999999" "deepcache:2,nonuniform,center=inf" \
            "deepcache:2,nonuniform,power=nan" "tome:1.5" "tome:nan" "dato:-0.1" "atedm:0.5,dsap=nan" "d:" "d:12,2*1000000000" \
            "d:12;r:0.4*99999999999" "r:" "m:nope" "+" "dato-reference+" "{" "[]" '{"depths":[1e30]}' "tome:0.5,levels=0+99"; do
  case_ "plan '$plan'" error "${gen[@]}" --accel "$plan" -o "$work/e.png"
done
long=$(printf 'd:12'; for _ in $(seq 10000); do printf ',2*50000'; done)
case_ "plan of 10,000 run-lengths" error "${gen[@]}" --accel "$long" -o "$work/e.png"

echo "# model configs"
m=$(model_with groups0 unet/config.json 's/"norm_num_groups": 16/"norm_num_groups": 0/'); case_ "unet norm_num_groups 0" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with heads0 unet/config.json 's/"attention_head_dim": 4/"attention_head_dim": 0/'); case_ "unet attention_head_dim 0" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with inneg unet/config.json 's/"in_channels": 4/"in_channels": -4/'); case_ "unet in_channels -4" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with lpb unet/config.json 's/"layers_per_block": 1/"layers_per_block": -1/'); case_ "unet layers_per_block -1" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with boc unet/config.json 's/    64,/    1000000000,/'); case_ "unet block_out_channels 1e9" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with xattn unet/config.json 's/"cross_attention_dim": 96/"cross_attention_dim": -96/'); case_ "unet cross_attention_dim -96" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with eps unet/config.json 's/"norm_eps": 1e-05/"norm_eps": -1/'); case_ "unet norm_eps -1" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with empty unet/config.json 's/.*//'); echo '{}' >"$m/unet/config.json"; case_ "unet config {}" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with notjson unet/config.json 's/{/[/'); case_ "unet config not JSON" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with inter text_encoder/config.json 's/"intermediate_size": 384/"intermediate_size": 1000000000/'); case_ "text intermediate_size 1e9" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with maxpos text_encoder/config.json 's/"max_position_embeddings": 77/"max_position_embeddings": 1000000000/'); case_ "text max_position_embeddings 1e9" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with layers text_encoder/config.json 's/"num_hidden_layers": 3/"num_hidden_layers": 100000/'); case_ "text num_hidden_layers 1e5" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with theads text_encoder/config.json 's/"num_attention_heads": 4/"num_attention_heads": 0/'); case_ "text num_attention_heads 0" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with scale vae/config.json 's/"scaling_factor": [0-9.]*/"scaling_factor": 0/'); case_ "vae scaling_factor 0" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with latneg vae/config.json 's/"latent_channels": 4/"latent_channels": -4/'); case_ "vae latent_channels -4" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with beta scheduler/scheduler_config.json 's/"beta_end": 0.012/"beta_end": 1.5/'); case_ "scheduler beta_end 1.5" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with offset scheduler/scheduler_config.json 's/"steps_offset": 1/"steps_offset": 5000/'); case_ "scheduler steps_offset 5000" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with offneg scheduler/scheduler_config.json 's/"steps_offset": 1/"steps_offset": -3/'); case_ "scheduler steps_offset -3" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with ntt scheduler/scheduler_config.json 's/"num_train_timesteps": 1000/"num_train_timesteps": 2/'); case_ "scheduler num_train_timesteps 2" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with cls scheduler/scheduler_config.json 's/"PNDMScheduler"/"NoSuchScheduler"/'); case_ "scheduler _class_name unknown" error "${gen[@]}" -m "$m" -o "$work/e.png"

echo "# weight files"
m=$(model_with flip unet/config.json 's/x/x/')
printf '\xff\xff\xff\x7f' | dd of="$m/unet/diffusion_pytorch_model.safetensors" bs=1 seek=200000 conv=notrunc status=none
case_ "unet weights with a NaN pattern" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with trunc unet/config.json 's/x/x/'); truncate -s 100000 "$m/unet/diffusion_pytorch_model.safetensors"
case_ "unet weights truncated" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with fifo unet/config.json 's/x/x/'); rm "$m/unet/diffusion_pytorch_model.safetensors"; mkfifo "$m/unet/diffusion_pytorch_model.safetensors"
case_ "unet weights are a FIFO" error "${gen[@]}" -m "$m" -o "$work/e.png"
safetensors big.safetensors '{}' 0 $((0x8000000000000000))
case_ "safetensors header length 2^63" error inspect big.safetensors
safetensors huge.safetensors '{"w":{"dtype":"F16","shape":[4611686018427387904],"data_offsets":[0,8]}}' 8
case_ "safetensors shape [2^62] F16" error inspect huge.safetensors
safetensors neg.safetensors '{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}' 4
case_ "safetensors negative dimension" error inspect neg.safetensors
safetensors deep.safetensors "$(printf '[%.0s' $(seq 100000))" 0
case_ "safetensors header nested 100000 deep" error inspect deep.safetensors
safetensors d1.safetensors '{"model.diffusion_model.input_blocks.0.0.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}' 16
case_ "checkpoint with 1-D conv_in" error inspect d1.safetensors
case_ "checkpoint with 1-D conv_in (generate)" error "${gen[@]}" -m d1.safetensors -o "$work/e.png"
safetensors idx.safetensors '{"model.diffusion_model.input_blocks.9223372036854775807.0.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}' 4
case_ "checkpoint block index 2^63-1" error inspect idx.safetensors
printf 'PK\x05\x06' >notzip.ckpt; head -c 18 /dev/zero >>notzip.ckpt
case_ ".ckpt empty zip" error inspect notzip.ckpt
head -c 5000 /dev/urandom >rand.ckpt
case_ ".ckpt random bytes" error inspect rand.ckpt
case_ "inspect a directory" error inspect "$work"
case_ "inspect /dev/zero" error inspect /dev/zero

echo "# model folders and SD 2.x files"
m=$(model_with shard-escape model_index.json 's/x/x/')
printf '{"weight_map": {"conv_in.weight": "../../unet/diffusion_pytorch_model.safetensors"}}' \
  >"$m/unet/diffusion_pytorch_model.safetensors.index.json"
case_ "shard index naming ../ a file outside" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with shard-missing model_index.json 's/x/x/')
printf '{"weight_map": {"conv_in.weight": "unet-00001-of-00002.safetensors"}}' >"$m/unet/diffusion_pytorch_model.safetensors.index.json"
case_ "shard index naming a missing shard" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with legacy-bin model_index.json 's/x/x/')
rm "$m/vae/diffusion_pytorch_model.safetensors"
printf '\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.' >"$m/vae/diffusion_pytorch_model.bin"
case_ "legacy .bin cut after its protocol" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with tok-json model_index.json 's/x/x/')
rm "$m/tokenizer/vocab.json" "$m/tokenizer/merges.txt"
printf '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": ["a b"]}}' >"$m/tokenizer/tokenizer.json"
case_ "tokenizer.json with a duplicate id" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with tok-len tokenizer/tokenizer_config.json 's/"model_max_length": *[0-9]*/"model_max_length": -5/')
case_ "tokenizer_config model_max_length -5" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with sdxl model_index.json 's/"unet"/"text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "unet"/')
case_ "SD-XL model_index (text_encoder_2)" error "${gen[@]}" -m "$m" -o "$work/e.png"
m=$(model_with inpaint unet/config.json 's/"in_channels": *4/"in_channels": 9/')
case_ "9-channel inpainting UNet config" error "${gen[@]}" -m "$m" -o "$work/e.png"
case_ "--variant fp16 where no component has it" error "${gen[@]}" --variant fp16 -o "$work/e.png"
case_ "--variant ../fp16" error "${gen[@]}" --variant ../fp16 -o "$work/e.png"
case_ "--prediction-type sample" error "${gen[@]}" --prediction-type sample -o "$work/e.png"
safetensors openclip.safetensors '{"cond_stage_model.model.token_embedding.weight":{"dtype":"F32","shape":[8,4],"data_offsets":[0,128]},"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight":{"dtype":"F32","shape":[10,4],"data_offsets":[128,288]}}' 288
case_ "OpenCLIP text tower alone, in_proj of 10 rows" error generate -m openclip.safetensors -p x --steps 2 -o "$work/e.png"
case_ "inspect a broken OpenCLIP file" error inspect openclip.safetensors

echo "# outputs"
mkfifo out.fifo
case_ "-o onto a FIFO" error "${gen[@]}" -o out.fifo
[ -p out.fifo ] || record "-o FIFO kept" HARM "the FIFO was replaced"
mknod out.dev c 1 3 2>/dev/null && {
  case_ "-o onto a device node" error "${gen[@]}" -o out.dev
  [ -c out.dev ] || record "-o device node kept" HARM "the device node was replaced"
}
mkdir out.dir
case_ "-o onto a directory" error "${gen[@]}" -o out.dir
case_ "-o in a missing folder" error "${gen[@]}" -o "$work/no/such/dir/x.png"
case_ "-o empty" error "${gen[@]}" -o ""

echo "# search journal and scorer"
printf 'a red circle\n' >prompts.txt
if command -v sqlite3 >/dev/null; then
  sqlite3 foreign.db "create table notes(x); insert into notes values (1);"
  before=$(sha256sum foreign.db | cut -d' ' -f1)
  case_ "--journal a foreign database" error search --prompts prompts.txt --steps 2 --population 2 --generations 1 --journal foreign.db --out "$work/s1" --no-presets
  [ "$(sha256sum foreign.db | cut -d' ' -f1)" = "$before" ] || record "foreign database unchanged" HARM "foreign.db was modified"
  case_ "--resume a foreign database" error search --resume foreign.db --out "$work/s2"
  [ "$(sha256sum foreign.db | cut -d' ' -f1)" = "$before" ] || record "foreign database unchanged (resume)" HARM "foreign.db was modified"
fi
case_ "--journal ''" error search --prompts prompts.txt --steps 2 --population 2 --generations 1 --journal "" --out "$work/s3" --no-presets
case_ "--max-quality-loss -1 (valid)" ok search --prompts prompts.txt --steps 2 --population 2 --generations 1 --no-presets \
  --max-quality-loss -1 --journal "$work/jm.sqlite" --out "$work/sm"
case_ "--population 0" error search --prompts prompts.txt --steps 2 --population 0 --generations 1 --journal "$work/j0.sqlite" --out "$work/s4"
case_ "--seeds 1,,2" error search --prompts prompts.txt --steps 2 --seeds 1,,2 --journal "$work/j1.sqlite" --out "$work/s5"
case_ "--max-quality-loss nan" error search --prompts prompts.txt --steps 2 --max-quality-loss nan --journal "$work/j2.sqlite" --out "$work/s6"
case_ "scorer that sleeps" error search --prompts prompts.txt --steps 2 --population 2 --generations 1 --no-presets --quality 'command:sleep 100000' \
  --scorer-timeout 5 --journal "$work/j3.sqlite" --out "$work/s7"
case_ "scorer that never stops printing" error search --prompts prompts.txt --steps 2 --population 2 --generations 1 --no-presets \
  --quality 'command:yes 1' --scorer-timeout 20 --journal "$work/j4.sqlite" --out "$work/s8"

echo "# dato score"
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00IEND\xaeB`\x82' >huge.png
case_ "PNG claiming 100000x100000" error score huge.png -p x
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x80\x00\x00\x00\x00\x00\x00\x01\x08\x02\x00\x00\x00\x00\x00\x00\x00' >wide.png
case_ "PNG claiming 2^31x1" error score wide.png -p x
head -c 3000 /dev/urandom >rand.png
case_ "PNG random bytes" error score rand.png -p x
case_ "PNG is a FIFO" error score out.fifo -p x

echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "hostile: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
