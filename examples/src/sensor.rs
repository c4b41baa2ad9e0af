//! Demo: a circuit breaker guarding a flaky I2C sensor, on a virtual clock.
fn main() {
    println!("sturdy demo: placeholder until the breaker lands");
}
