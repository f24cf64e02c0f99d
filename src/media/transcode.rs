//! PCMU↔PCMA transcoding for the relay: one 256-entry table each way (decode with one law,
//! encode with the other), built once from [`super::g711`]. Pure lookup; no allocation.

use std::sync::OnceLock;

use super::g711;
use super::io::Codec;

fn table(from: Codec) -> &'static [u8; 256] {
    static U2A: OnceLock<[u8; 256]> = OnceLock::new();
    static A2U: OnceLock<[u8; 256]> = OnceLock::new();
    match from {
        Codec::Pcmu => U2A
            .get_or_init(|| std::array::from_fn(|c| g711::alaw_encode(g711::ulaw_decode(c as u8)))),
        Codec::Pcma => A2U
            .get_or_init(|| std::array::from_fn(|c| g711::ulaw_encode(g711::alaw_decode(c as u8)))),
    }
}

/// Append `payload` in codec `from` to `out` in codec `to` (a copy when they are the same).
pub fn append(from: Codec, to: Codec, payload: &[u8], out: &mut Vec<u8>) {
    if from == to {
        out.extend_from_slice(payload);
    } else {
        let t = table(from);
        out.extend(payload.iter().map(|&c| t[usize::from(c)]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcmu_to_pcma_keeps_the_sound() {
        let pcm: Vec<i16> = (0..160)
            .map(|i| ((i as f64 * 0.3).sin() * 12000.0) as i16)
            .collect();
        let mut ulaw = Vec::new();
        g711::encode(Codec::Pcmu, &pcm, &mut ulaw);
        let mut alaw = Vec::new();
        append(Codec::Pcmu, Codec::Pcma, &ulaw, &mut alaw);
        let mut back = Vec::new();
        g711::decode(Codec::Pcma, &alaw, &mut back);
        for (a, b) in pcm.iter().zip(&back) {
            // Two quantisations: within a few percent of full scale at most.
            assert!((i32::from(*a) - i32::from(*b)).abs() < 800, "{a} vs {b}");
        }
    }
}
