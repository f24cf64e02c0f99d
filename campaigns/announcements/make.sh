#!/usr/bin/env bash
# Regenerates the placeholder announcements in this folder with espeak-ng and sox (Debian
# packages espeak-ng and sox). Deterministic for a given espeak-ng and sox version: fixed voices,
# speeds and pitches, no dither (-D), repeatable mode (-R). Output: 8 kHz 16-bit mono WAV, 4–8 s
# each, the way carriers play them (the message, then a repeat or an English version).
#
# Usage: campaigns/announcements/make.sh   (from anywhere; writes beside this script)
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# say VOICE SPEED PITCH TEXT OUT: speech with its leading and trailing silence trimmed.
say() {
  espeak-ng -v "$1" -s "$2" -p "$3" -w "$tmp/raw.wav" "$4"
  sox -R "$tmp/raw.wav" "$5" silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse
}

# make OUT PART…: the parts joined with 400 ms pauses, 200 ms of lead-in, as 8 kHz 16-bit mono.
make() {
  local out=$1
  shift
  sox -R -n -r 22050 -c 1 "$tmp/gap.wav" trim 0 0.4
  local inputs=()
  for p in "$@"; do inputs+=("$p" "$tmp/gap.wav"); done
  mkdir -p "$(dirname "$out")"
  sox -R "${inputs[@]}" -D -r 8000 -c 1 -b 16 -e signed-integer "$out" pad 0.2 0
  printf '%-26s %5.2f s\n' "$out" "$(soxi -D "$out")"
}

say cmn 190 50 "您拨打的电话已关机" "$tmp/cmn-off.wav"
say en-us 160 50 "The subscriber you dialed is powered off." "$tmp/en-off.wav"
make cmn/powered-off.wav "$tmp/cmn-off.wav" "$tmp/en-off.wav"

say cmn 190 50 "您拨打的号码是空号" "$tmp/cmn-vacant.wav"
say en-us 160 50 "The number you dialed does not exist." "$tmp/en-vacant.wav"
make cmn/vacant.wav "$tmp/cmn-vacant.wav" "$tmp/en-vacant.wav"

say cmn 190 50 "您拨打的电话已停机" "$tmp/cmn-suspended.wav"
say en-us 160 50 "The number you dialed has been suspended." "$tmp/en-suspended.wav"
make cmn/suspended.wav "$tmp/cmn-suspended.wav" "$tmp/en-suspended.wav"

say cmn 190 50 "您拨打的电话暂时无法接通,请稍后再拨" "$tmp/cmn-unreachable.wav"
make cmn/unreachable.wav "$tmp/cmn-unreachable.wav"

say cmn 190 50 "您拨打的电话正在通话中,请稍后再拨" "$tmp/cmn-busy.wav"
make cmn/busy.wav "$tmp/cmn-busy.wav"

say en-us 150 45 "The number you have dialed is not in service. Please check the number and dial again." "$tmp/en-nis.wav"
make en/not-in-service.wav "$tmp/en-nis.wav"

say yue 170 50 "你所打嘅電話已經關機,請遲啲再打" "$tmp/yue-off.wav"
say en-gb 165 40 "Sorry, the mobile you are calling is switched off." "$tmp/en-gb-off.wav"
make yue/powered-off.wav "$tmp/yue-off.wav" "$tmp/en-gb-off.wav"

# Voicemail systems' prompts (the carrier's own voicemail service, played when the subscriber
# does not answer): under voicemail/, a match is a machine (see README.md). The prompt only,
# not its beep: the beep is a tone the tone detector hears.
say cmn 180 50 "您好,您拨打的用户暂时无法接听,请在提示音后留言" "$tmp/cmn-secretary.wav"
say en-us 160 50 "The subscriber you dialed cannot answer the phone now, please leave a message after the tone." "$tmp/en-secretary.wav"
make voicemail/cmn/secretary.wav "$tmp/cmn-secretary.wav" "$tmp/en-secretary.wav"

say cmn 180 45 "欢迎使用语音信箱,机主现在不方便接听,请在嘀声后留言,留言完毕请挂机" "$tmp/cmn-mailbox.wav"
make voicemail/cmn/mailbox.wav "$tmp/cmn-mailbox.wav"

say en-us 155 50 "The person you are calling is not available. Please record your message after the tone. When you have finished, simply hang up." "$tmp/en-mailbox.wav"
make voicemail/en/mailbox.wav "$tmp/en-mailbox.wav"
