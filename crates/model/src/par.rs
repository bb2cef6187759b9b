//! Data-parallel loops for the CPU ops ([`crate::fused`], [`crate::im2col`],
//! [`crate::conv_op`]): rayon where its pool has more than one thread and the buffer is
//! large, a plain loop otherwise. Handing work to rayon's pool costs a thread wake-up per
//! call; with one thread the hand-offs alone made a training step about a fifth slower
//! (`ganscope bench-train`, RAYON_NUM_THREADS=1).

use rayon::prelude::*;

/// Buffers shorter than this run on the calling thread.
const MIN_LEN: usize = 32 * 1024;

fn parallel(len: usize) -> bool {
    len >= MIN_LEN && rayon::current_num_threads() > 1
}

/// Calls `f(i, chunk)` for each `len`-long chunk of `buf`.
pub(crate) fn chunks_mut<T: Send>(buf: &mut [T], len: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if parallel(buf.len()) {
        buf.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        buf.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// `f(i, part)` for each `len`-long part of `buf`, the results in order: on rayon's threads
/// where there are several parts and threads, whatever the parts' size (the convolutions'
/// parts of samples, [`crate::conv_op`], are large by construction).
pub(crate) fn parts_mut<T: Send, R: Send>(
    buf: &mut [T],
    len: usize,
    f: impl Fn(usize, &mut [T]) -> candle_core::Result<R> + Sync,
) -> candle_core::Result<Vec<R>> {
    if buf.len() > len && rayon::current_num_threads() > 1 {
        buf.par_chunks_mut(len)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect()
    } else {
        buf.chunks_mut(len)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect()
    }
}

/// `f(i, chunk)` for each `len`-long chunk of `data`, in order.
pub(crate) fn map_chunks<T: Sync, R: Send>(
    data: &[T],
    len: usize,
    f: impl Fn(usize, &[T]) -> R + Sync,
) -> Vec<R> {
    if parallel(data.len()) {
        data.par_chunks(len)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect()
    } else {
        data.chunks(len).enumerate().map(|(i, c)| f(i, c)).collect()
    }
}
