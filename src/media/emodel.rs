//! The simplified E-model (ITU-T G.107) for G.711: loss and one-way delay to an R factor and a
//! MOS estimate (formulas in ../shared/docs/media.md). Pure arithmetic.

/// Packet-loss robustness of G.711 with packet-loss concealment.
pub const BPL_G711_PLC: f64 = 25.1;

/// R factor for random loss `loss_pct` (%) and one-way delay `delay_ms`, G.711 (Ie = 0).
pub fn r_factor(loss_pct: f64, delay_ms: f64, bpl: f64) -> f64 {
    let ie = 0.0;
    let ppl = loss_pct.clamp(0.0, 100.0);
    let ie_eff = if ppl + bpl > 0.0 {
        ie + (95.0 - ie) * ppl / (ppl + bpl)
    } else {
        ie
    };
    let d = delay_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    93.2 - id - ie_eff
}

/// MOS from an R factor (1.0 at or below 0, 4.5 at or above 100).
pub fn mos(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

/// MOS for G.711 with concealment at `loss_pct` and `delay_ms`.
pub fn g711_mos(loss_pct: f64, delay_ms: f64) -> f64 {
    mos(r_factor(loss_pct, delay_ms, BPL_G711_PLC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_network_is_r_93_2_mos_4_41() {
        let r = r_factor(0.0, 0.0, BPL_G711_PLC);
        assert!((r - 93.2).abs() < 1e-9);
        assert!((mos(r) - 4.409).abs() < 0.001, "{}", mos(r));
    }

    #[test]
    fn loss_and_delay_lower_the_score() {
        // 25.1 % loss with Bpl 25.1 costs half of 95.
        assert!((r_factor(25.1, 0.0, BPL_G711_PLC) - (93.2 - 47.5)).abs() < 1e-9);
        // 200 ms: 0.024*200 + 0.11*22.7.
        assert!((r_factor(0.0, 200.0, BPL_G711_PLC) - (93.2 - 4.8 - 2.497)).abs() < 1e-9);
        assert!(g711_mos(5.0, 40.0) < g711_mos(1.0, 40.0));
        assert_eq!(mos(-5.0), 1.0);
        // R = 50 → 1 + 1.75 + 50*(-10)*50*7e-6 = 2.575.
        assert!((mos(50.0) - 2.575).abs() < 1e-9);
    }
}
