#!/bin/sh
# Issue 20: `eos bench eos` checks the rows formed on the device against the host's (bit for bit)
# and prints phases 2-3 split into kNN, draws, rows and head with the bytes moved each way: rows
# on the host, on the device, all of phases 2-3 on the device; PoCL pthread, basic, GPU paths.
eos="$1"
. "$(dirname "$0")/cli_common.sh"

table='new rows formed +knn +draws +rows +head +total +phase 2 MB +phase 3 MB'
host_row='on the host +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ / +[0-9.]+ +[0-9.]+ / +[0-9.]+'
dev_row='on the device +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ / +[0-9.]+ +[0-9.]+ / +[0-9.]+'
expect "bench eos: the phase table" 0 "$table" "$eos" bench eos --n 400 --dim 16 --k 5 --steps 1
expect "bench eos: rows on the host" 0 "$host_row" "$eos" bench eos --n 400 --dim 16 --k 5 --steps 1
expect "bench eos: rows on the device" 0 "$dev_row" "$eos" bench eos --n 400 --dim 16 --k 5 --steps 1
expect "bench eos: all on the device" 0 'all on device( +[0-9.]+){5} ' "$eos" bench eos --n 400 --dim 16 --k 5 --steps 1
# all on the device, phase 3 sends per batch the row numbers, not the rows: the balanced set is
# 10 x 166 rows, 13 batches of 128 an epoch, 10 epochs x 13 x 128 x (1 index + 1 label) x 4 bytes
# + the head's 10 x 16 + 10 floats = 0.13 MB (1.13 MB when the rows go up, 16 floats a row)
expect "bench eos: the head reads its rows on the device" 0 'all on device( +[0-9.]+){5} +[0-9.]+ / +[0-9.]+ +0\.13 / ' \
    "$eos" bench eos --n 400 --dim 16 --k 5 --steps 1
# the host path moves no bytes for the rows: phase 2 sends only kNN's two copies of the input
# (400 x 16 x 4 x 2 = 0.05 MB) and reads back its lists (400 x 5 x 4 = 0.01 MB)
expect "bench eos: host rows move kNN's bytes only" 0 'on the host( +[0-9.]+){5} +0\.05 / +0\.01 ' \
    "$eos" bench eos --n 400 --dim 16 --k 5 --steps 1
expect "bench eos on PoCL basic" 0 "$dev_row" env POCL_DEVICES=basic "$eos" bench eos --n 400 --dim 16 --k 5 --steps 1 --device cpu
expect "bench eos on the GPU paths" 0 "$dev_row" env EOS_GPU_PATHS=1 "$eos" bench eos --n 400 --dim 16 --k 5 --steps 1
finish
