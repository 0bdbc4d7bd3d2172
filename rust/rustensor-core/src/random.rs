//! The seeded generator behind rand/randn/randint: xoshiro256++ (public domain algorithm by
//! Blackman and Vigna), one per process, reseeded by `manual_seed`.
use std::sync::Mutex;

pub struct Xoshiro256 {
    s: [u64; 4],
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Xoshiro256 {
    pub fn seeded(seed: u64) -> Self {
        let mut x = seed;
        Xoshiro256 { s: [splitmix(&mut x), splitmix(&mut x), splitmix(&mut x), splitmix(&mut x)] }
    }
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let r = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }
    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Standard normal by Box-Muller.
    pub fn normal_pair(&mut self) -> (f64, f64) {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let th = std::f64::consts::TAU * u2;
        (r * th.cos(), r * th.sin())
    }
    /// Uniform integer in [0, n) without modulo bias (Lemire's method).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        loop {
            let x = self.next_u64();
            let m = (x as u128) * (n as u128);
            let lo = m as u64;
            if lo >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }
}

static GEN: Mutex<Option<Xoshiro256>> = Mutex::new(None);

/// Runs `f` with the process generator (seeded from the clock until `manual_seed`).
pub fn with_gen<R>(f: impl FnOnce(&mut Xoshiro256) -> R) -> R {
    let mut g = match GEN.lock() {
        Ok(g) => g,
        Err(e) => e.into_inner(),
    };
    let gen = g.get_or_insert_with(|| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        Xoshiro256::seeded(t)
    });
    f(gen)
}

pub fn manual_seed(seed: u64) {
    let mut g = match GEN.lock() {
        Ok(g) => g,
        Err(e) => e.into_inner(),
    };
    *g = Some(Xoshiro256::seeded(seed));
}

/// The process generator's state (`torch.get_rng_state()`); seeds it first if unseeded.
pub fn get_state() -> [u64; 4] {
    with_gen(|g| g.s)
}

/// Restores a state from [`get_state`], so the following draws repeat exactly.
pub fn set_state(s: [u64; 4]) -> crate::Result<()> {
    if s == [0; 4] {
        // xoshiro's one fixed point: every later draw would be 0
        crate::bail!(Runtime, "set_rng_state: the all-zero state is not one get_rng_state() returns");
    }
    let mut g = match GEN.lock() {
        Ok(g) => g,
        Err(e) => e.into_inner(),
    };
    *g = Some(Xoshiro256 { s });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn reproducible_and_in_range() {
        let mut a = Xoshiro256::seeded(7);
        let mut b = Xoshiro256::seeded(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
            let u = a.uniform();
            assert!((0.0..1.0).contains(&u));
            assert!(a.below(10) < 10);
            b.uniform();
            b.below(10);
        }
    }

    #[test]
    fn a_restored_state_repeats_the_draws() {
        manual_seed(3);
        with_gen(|g| g.next_u64());
        let s = get_state();
        let first: Vec<u64> = (0..5).map(|_| with_gen(|g| g.next_u64())).collect();
        set_state(s).unwrap();
        let again: Vec<u64> = (0..5).map(|_| with_gen(|g| g.next_u64())).collect();
        assert_eq!(first, again);
        assert!(set_state([0; 4]).is_err());
    }
}
