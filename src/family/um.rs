//! Exchange Unified Messaging web service (SOAP 1.1): request/response only.

use super::Protocol;

pub struct Um;

impl Protocol for Um {
    fn name(&self) -> &'static str {
        "um"
    }
    fn title(&self) -> &'static str {
        "Exchange Unified Messaging web service (SOAP 1.1)"
    }
}
