//! Deliberate breakages of documented behaviour (STUB: being written).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Deviation {}

impl Deviation {
    pub fn all() -> &'static [Deviation] {
        &[]
    }
    pub fn name(self) -> &'static str {
        match self {}
    }
    pub fn about(self) -> &'static str {
        match self {}
    }
    pub fn parse(s: &str) -> Result<Deviation, String> {
        Err(format!("unknown deviation `{s}`"))
    }
}
