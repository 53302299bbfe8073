pub mod account;
pub mod inputs;
pub mod liquidate;
