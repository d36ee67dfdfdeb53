/**
 * The stream benchmark's writer and reader stand for xl's own processes, so both run as
 * apps/xl/bin/xl.js sets xl up: V8 without incremental marking (read buffers' external-memory
 * pressure otherwise keeps restarting it) and glibc keeping freed memory (@xlkit/os-tune).
 * Both the raw and the framed runs use these processes. Import it first.
 */
import v8 from 'node:v8';
import { keepFreedMemory } from '@xlkit/os-tune';

v8.setFlagsFromString('--no-incremental-marking');
keepFreedMemory();
