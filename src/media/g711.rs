//! G.711 µ-law and A-law (ITU-T G.711): 16-bit linear PCM to and from 8-bit codes. The
//! decoders are 256-entry tables built once; the encoders are the standard segment search.
//! Pure arithmetic: owns no state beyond the tables.

use std::sync::OnceLock;

use super::io::Codec;

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// Encode one linear sample as µ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    // Segment: the highest set bit of s above bit 7 (s >> 7 is 1..=256 here).
    let exponent = (31 - (s >> 7).leading_zeros() as i32).min(7);
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 as i32 | mantissa) as u8
}

/// Decode one µ-law code.
pub fn ulaw_decode(code: u8) -> i16 {
    ulaw_table()[usize::from(code)]
}

/// Encode one linear sample as A-law.
pub fn alaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample) >> 3; // A-law works on 13-bit magnitudes
    let sign = if s >= 0 {
        0x80
    } else {
        s = -s - 1;
        0
    };
    let s = s.min(0x0FFF);
    let code = if s < 32 {
        s >> 1
    } else {
        let exponent = 31 - (s as u32).leading_zeros() as i32 - 4; // 1..=7
        (exponent << 4) | ((s >> exponent) & 0x0F)
    };
    ((sign | code) ^ 0x55) as u8
}

/// Decode one A-law code.
pub fn alaw_decode(code: u8) -> i16 {
    alaw_table()[usize::from(code)]
}

/// Encode a frame for `codec`.
pub fn encode(codec: Codec, pcm: &[i16], out: &mut Vec<u8>) {
    match codec {
        Codec::Pcmu => out.extend(pcm.iter().map(|&s| ulaw_encode(s))),
        Codec::Pcma => out.extend(pcm.iter().map(|&s| alaw_encode(s))),
    }
}

/// Decode a frame of `codec` into `out`.
pub fn decode(codec: Codec, payload: &[u8], out: &mut Vec<i16>) {
    match codec {
        Codec::Pcmu => out.extend(payload.iter().map(|&c| ulaw_decode(c))),
        Codec::Pcma => out.extend(payload.iter().map(|&c| alaw_decode(c))),
    }
}

fn ulaw_table() -> &'static [i16; 256] {
    static T: OnceLock<[i16; 256]> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = [0i16; 256];
        for (code, slot) in t.iter_mut().enumerate() {
            let u = !(code as u8);
            let exponent = i32::from((u >> 4) & 0x07);
            let mantissa = i32::from(u & 0x0F);
            let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
            *slot = if u & 0x80 != 0 { -magnitude } else { magnitude } as i16;
        }
        t
    })
}

fn alaw_table() -> &'static [i16; 256] {
    static T: OnceLock<[i16; 256]> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = [0i16; 256];
        for (code, slot) in t.iter_mut().enumerate() {
            let a = (code as u8) ^ 0x55;
            let exponent = i32::from((a >> 4) & 0x07);
            let mantissa = i32::from(a & 0x0F);
            let magnitude = match exponent {
                0 => (mantissa << 4) + 8,
                e => ((mantissa << 4) + 0x108) << (e - 1),
            };
            *slot = if a & 0x80 != 0 { magnitude } else { -magnitude } as i16;
        }
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference points of G.711: silence, full scale, and the sign.
    #[test]
    fn known_codes() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
    }

    /// Every code decodes and re-encodes to itself (µ-law's two zeros aside), and the error of
    /// encode∘decode on any sample stays within half a quantisation step of its segment.
    #[test]
    fn round_trips() {
        for code in 0..=255u8 {
            if code != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(code)), code, "µ-law {code:#x}");
            }
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#x}");
        }
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let u = i32::from(ulaw_decode(ulaw_encode(s)));
            let a = i32::from(alaw_decode(alaw_encode(s)));
            let tol = (i32::from(s).abs() / 16).max(16);
            assert!((u - i32::from(s)).abs() <= tol + 64, "µ-law {s} -> {u}");
            assert!((a - i32::from(s)).abs() <= tol + 64, "A-law {s} -> {a}");
        }
    }
}
