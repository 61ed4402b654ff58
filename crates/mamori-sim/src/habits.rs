//! Per-person habits: when someone starts and how long they stay (each with a little daily
//! jitter), whether they work evenings or weekends, how much they use USB drives, mail and the
//! web, and when they are on holiday. Habits never change over the period; what changes
//! behaviour is a scenario (see [`crate::scenario`]).

use jiff::civil::Date;
use rand::RngExt;

use crate::org::Role;
use crate::rng::{SimRng, normal};
use crate::vocab::Category;

/// Benign traits worth naming in the ground truth: each looks like an insider signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traits {
    /// Works evenings (after 19:00) on some days.
    pub after_hours: bool,
    /// Works some weekends.
    pub weekend: bool,
    /// Copies many files to USB drives as part of the job.
    pub usb_heavy: bool,
    /// Uses a cloud storage site, sometimes uploading.
    pub cloud_user: bool,
}

#[derive(Debug, Clone)]
pub struct Habits {
    /// Usual arrival, minutes after midnight.
    pub start_minute: f64,
    /// Standard deviation of the arrival, minutes.
    pub start_jitter: f64,
    /// Usual length of the working day, minutes.
    pub day_minutes: f64,
    /// Probability of an evening session on a workday.
    pub evening: f64,
    /// Probability of working on a weekend day or holiday.
    pub weekend: f64,
    /// USB drive connections per workday (0: never uses one).
    pub usb_per_day: f64,
    /// Files copied per connection.
    pub files_per_connect: f64,
    pub http_per_hour: f64,
    pub emails_per_day: f64,
    /// Share of mails that go to an outside (partner) address.
    pub external_mail_share: f64,
    /// Probability per workday of a session on a shared (lab) PC.
    pub shared_pc: f64,
    /// Probability per workday of logging on to another person's PC (IT staff do it often).
    pub other_pc: f64,
    /// Probability of a sick day.
    pub sick: f64,
    /// Weight of each [`Category`] (same order as [`Category::ALL`]).
    pub web_weights: [f32; 11],
    /// Holidays (inclusive ranges).
    pub vacations: Vec<(Date, Date)>,
    pub traits: Traits,
}

impl Habits {
    /// Draws habits for a person with `role` and conscientiousness `c` (10–50; lower arrives
    /// less punctually), over the period `[first, last]`.
    pub fn draw(
        rng: &mut SimRng,
        role: Role,
        conscientiousness: u8,
        extraversion: u8,
        first: Date,
        last: Date,
    ) -> Self {
        let it = role == Role::ItAdmin;
        let mut traits = Traits {
            after_hours: rng.random_bool(if it { 0.3 } else { 0.07 }),
            weekend: rng.random_bool(if it { 0.25 } else { 0.05 }),
            usb_heavy: false,
            cloud_user: rng.random_bool(0.2),
        };
        let usb_user = rng.random_bool(if it || role.is_technical() {
            0.45
        } else {
            0.25
        });
        let mut usb_per_day = 0.0;
        let mut files_per_connect = 0.0;
        if usb_user {
            usb_per_day = rng.random_range(0.1..1.2);
            files_per_connect = rng.random_range(0.5..3.0);
            if rng.random_bool(0.25) {
                traits.usb_heavy = true;
                usb_per_day = rng.random_range(1.5..4.0);
                files_per_connect = rng.random_range(3.0..9.0);
            }
        }
        let mut web_weights = [0.0f32; 11];
        for (weight, category) in web_weights.iter_mut().zip(Category::ALL) {
            *weight = match category {
                Category::Search => rng.random_range(2.0..6.0),
                Category::News => rng.random_range(0.5..5.0),
                Category::Reference => rng.random_range(0.5..3.0),
                Category::Shopping => rng.random_range(0.0..2.0),
                Category::Social => rng.random_range(0.0..3.0),
                Category::Entertainment => rng.random_range(0.0..2.5),
                Category::Tech => rng.random_range(0.3..if it { 4.0 } else { 1.5 }),
                Category::CloudStorage if traits.cloud_user => rng.random_range(0.2..1.0),
                Category::CloudStorage => 0.0,
                // A few people browse job sites without ever leaving; a few read leak sites
                // (they were in the news).
                Category::JobSearch if rng.random_bool(0.1) => rng.random_range(0.02..0.15),
                Category::JobSearch => 0.0,
                Category::Leak if rng.random_bool(0.05) => rng.random_range(0.02..0.1),
                Category::Leak => 0.0,
                Category::HackingTools if it => rng.random_range(0.02..0.1),
                Category::HackingTools => 0.0,
            };
        }
        let start_minute = (8.0 * 60.0 + 40.0 * normal(rng)).clamp(6.5 * 60.0, 10.0 * 60.0);
        Habits {
            start_minute,
            start_jitter: 4.0 + f64::from(50u8.saturating_sub(conscientiousness)) * 0.5,
            day_minutes: (8.75 * 60.0 + 35.0 * normal(rng)).clamp(7.0 * 60.0, 10.5 * 60.0),
            evening: if traits.after_hours {
                rng.random_range(0.15..0.5)
            } else {
                0.0
            },
            weekend: if traits.weekend {
                rng.random_range(0.15..0.5)
            } else {
                0.0
            },
            usb_per_day,
            files_per_connect,
            http_per_hour: rng.random_range(1.5..6.0),
            emails_per_day: rng.random_range(2.0..8.0) * (0.6 + f64::from(extraversion) / 50.0),
            external_mail_share: if role == Role::Salesman {
                rng.random_range(0.2..0.4)
            } else {
                rng.random_range(0.02..0.15)
            },
            shared_pc: if rng.random_bool(0.2) {
                rng.random_range(0.03..0.15)
            } else {
                0.0
            },
            other_pc: if it {
                rng.random_range(0.3..0.9)
            } else if rng.random_bool(0.03) {
                0.02
            } else {
                0.0
            },
            sick: rng.random_range(0.005..0.025),
            web_weights,
            vacations: draw_vacations(rng, first, last),
            traits,
        }
    }

    pub fn on_vacation(&self, day: Date) -> bool {
        self.vacations
            .iter()
            .any(|(from, to)| *from <= day && day <= *to)
    }
}

/// About one week of holiday per quarter of the period, at random.
fn draw_vacations(rng: &mut SimRng, first: Date, last: Date) -> Vec<(Date, Date)> {
    let days = i64::from((last - first).get_days()).max(1);
    let count = (days / 90 + i64::from(rng.random_bool(0.5))).max(0);
    let mut vacations = Vec::new();
    for _ in 0..count {
        let offset = rng.random_range(0..days);
        let length = rng.random_range(3..10i64);
        let (Ok(from), Ok(to)) = (
            first.checked_add(jiff::Span::new().days(offset)),
            first.checked_add(jiff::Span::new().days(offset + length)),
        ) else {
            continue;
        };
        vacations.push((from, to));
    }
    vacations
}
