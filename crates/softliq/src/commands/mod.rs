pub mod account;
pub mod drive;
pub mod inputs;
pub mod liquidate;
pub mod replay;
pub mod serve;
pub mod sim;
pub mod soak;
