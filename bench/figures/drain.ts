import type { BenchFleet } from '../lib/fleet.js';
import type { BenchProfile } from '../lib/profile.js';
import type { FigureResult } from '../lib/report.js';
export function drainFigure(_f: BenchFleet, _p: BenchProfile, _log: (s: string) => void): Promise<FigureResult> { return Promise.reject(new Error('todo')); }
