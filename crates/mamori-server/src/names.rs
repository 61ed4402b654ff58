//! The pseudonyms the server answers with: a [`Pseudonymiser`] over the people in the store,
//! built on first use.

use mamori_privacy::pseudonym::{Directory, PseudonymKey, Pseudonymiser};
use mamori_store::{EventStore, StoreError};

pub struct Names {
    key: PseudonymKey,
    current: Option<Pseudonymiser>,
}

impl Names {
    pub fn new(key: PseudonymKey) -> Names {
        Names { key, current: None }
    }

    /// The pseudonymiser for the people in `store`.
    pub fn get(&mut self, store: &EventStore) -> Result<&Pseudonymiser, StoreError> {
        let names = match self.current.take() {
            Some(names) => names,
            None => {
                let directory = Directory::new(&store.people()?)
                    .map_err(|e| StoreError::Corrupt(format!("HR records: {e}")))?;
                Pseudonymiser::new(&self.key, &directory)
            }
        };
        Ok(self.current.insert(names))
    }
}
