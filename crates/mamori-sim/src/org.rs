//! The organisation: its units (business unit → functional unit → department → team), its
//! people with roles, supervisors (a tree under one president), employment types, PCs, mail
//! addresses, contacts and personality scores, as CERT r4.2's LDAP and psychometric files
//! describe them.

use std::collections::HashSet;

use jiff::civil::Date;
use mamori_event::EmploymentType;
use rand::RngExt;

use crate::error::SimError;
use crate::habits::Habits;
use crate::rng::{SimRng, pick};
use crate::vocab::{FIRST_NAMES, HOME_MAIL_DOMAINS, LAST_NAMES, PARTNER_DOMAINS};

/// The organisation's mail domain (CERT's is `dtaa.com`).
pub const ORG_DOMAIN: &str = "dtaa.com";
/// Every person is in business unit 1, as in CERT r4.2.
pub const BUSINESS_UNIT: &str = "1";

/// Job roles (LDAP `role`), named as CERT names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    President,
    Vp,
    Director,
    Manager,
    ItAdmin,
    Technician,
    SecurityGuard,
    AdministrativeAssistant,
    ComputerProgrammer,
    SoftwareEngineer,
    ComputerScientist,
    ElectricalEngineer,
    MechanicalEngineer,
    SystemsEngineer,
    Mathematician,
    ProductionLineWorker,
    MaterialsEngineer,
    Accountant,
    PurchasingClerk,
    Salesman,
    MarketingSpecialist,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::President => "President",
            Role::Vp => "VP",
            Role::Director => "Director",
            Role::Manager => "Manager",
            Role::ItAdmin => "ITAdmin",
            Role::Technician => "Technician",
            Role::SecurityGuard => "SecurityGuard",
            Role::AdministrativeAssistant => "AdministrativeAssistant",
            Role::ComputerProgrammer => "ComputerProgrammer",
            Role::SoftwareEngineer => "SoftwareEngineer",
            Role::ComputerScientist => "ComputerScientist",
            Role::ElectricalEngineer => "ElectricalEngineer",
            Role::MechanicalEngineer => "MechanicalEngineer",
            Role::SystemsEngineer => "SystemsEngineer",
            Role::Mathematician => "Mathematician",
            Role::ProductionLineWorker => "ProductionLineWorker",
            Role::MaterialsEngineer => "MaterialsEngineer",
            Role::Accountant => "Accountant",
            Role::PurchasingClerk => "PurchasingClerk",
            Role::Salesman => "Salesman",
            Role::MarketingSpecialist => "MarketingSpecialist",
        }
    }

    /// Heads of a unit (never insiders, joiners or leavers in the simulation, so that the
    /// supervisor tree stays whole).
    pub fn is_leader(self) -> bool {
        matches!(
            self,
            Role::President | Role::Vp | Role::Director | Role::Manager
        )
    }

    /// Engineers and technicians (more USB use).
    pub fn is_technical(self) -> bool {
        matches!(
            self,
            Role::Technician
                | Role::ComputerProgrammer
                | Role::SoftwareEngineer
                | Role::ComputerScientist
                | Role::ElectricalEngineer
                | Role::MechanicalEngineer
                | Role::SystemsEngineer
                | Role::MaterialsEngineer
        )
    }
}

struct TeamSpec {
    name: &'static str,
    roles: &'static [Role],
    /// Relative head count.
    weight: f32,
    /// Order in which teams are opened when the organisation is small (0 first).
    priority: u8,
}

struct DepartmentSpec {
    name: &'static str,
    teams: &'static [TeamSpec],
}

struct FunctionalUnitSpec {
    departments: &'static [DepartmentSpec],
}

/// Functional units, in LDAP's `N - Name` form.
pub const FUNCTIONAL_UNITS: [&str; 5] = [
    "1 - Administration",
    "2 - ResearchAndEngineering",
    "3 - Manufacturing",
    "4 - Finance",
    "5 - SalesAndMarketing",
];

const STRUCTURE: &[FunctionalUnitSpec] = &[
    FunctionalUnitSpec {
        departments: &[
            DepartmentSpec {
                name: "1 - HumanResources",
                teams: &[TeamSpec {
                    name: "1 - Staffing",
                    roles: &[Role::AdministrativeAssistant],
                    weight: 1.0,
                    priority: 9,
                }],
            },
            DepartmentSpec {
                name: "2 - Security",
                teams: &[TeamSpec {
                    name: "1 - PhysicalSecurity",
                    roles: &[Role::SecurityGuard],
                    weight: 1.0,
                    priority: 12,
                }],
            },
            DepartmentSpec {
                name: "3 - InformationTechnology",
                teams: &[
                    TeamSpec {
                        name: "1 - Infrastructure",
                        roles: &[Role::ItAdmin],
                        weight: 1.2,
                        priority: 0,
                    },
                    TeamSpec {
                        name: "2 - Helpdesk",
                        roles: &[Role::ItAdmin, Role::Technician],
                        weight: 1.0,
                        priority: 7,
                    },
                ],
            },
        ],
    },
    FunctionalUnitSpec {
        departments: &[
            DepartmentSpec {
                name: "1 - SoftwareManagement",
                teams: &[
                    TeamSpec {
                        name: "1 - Software",
                        roles: &[Role::ComputerProgrammer, Role::SoftwareEngineer],
                        weight: 3.0,
                        priority: 1,
                    },
                    TeamSpec {
                        name: "2 - Testing",
                        roles: &[Role::SoftwareEngineer, Role::ComputerScientist],
                        weight: 1.5,
                        priority: 8,
                    },
                ],
            },
            DepartmentSpec {
                name: "2 - HardwareEngineering",
                teams: &[
                    TeamSpec {
                        name: "1 - Electrical",
                        roles: &[Role::ElectricalEngineer],
                        weight: 1.5,
                        priority: 4,
                    },
                    TeamSpec {
                        name: "2 - Mechanical",
                        roles: &[Role::MechanicalEngineer],
                        weight: 1.5,
                        priority: 10,
                    },
                    TeamSpec {
                        name: "3 - Systems",
                        roles: &[Role::SystemsEngineer, Role::Mathematician],
                        weight: 1.0,
                        priority: 13,
                    },
                ],
            },
        ],
    },
    FunctionalUnitSpec {
        departments: &[
            DepartmentSpec {
                name: "1 - Assembly",
                teams: &[
                    TeamSpec {
                        name: "1 - AssemblyDept",
                        roles: &[Role::ProductionLineWorker],
                        weight: 3.0,
                        priority: 2,
                    },
                    TeamSpec {
                        name: "2 - QualityControl",
                        roles: &[Role::Technician],
                        weight: 1.0,
                        priority: 11,
                    },
                ],
            },
            DepartmentSpec {
                name: "2 - Materials",
                teams: &[TeamSpec {
                    name: "1 - MaterialsLab",
                    roles: &[Role::MaterialsEngineer, Role::Technician],
                    weight: 1.0,
                    priority: 14,
                }],
            },
        ],
    },
    FunctionalUnitSpec {
        departments: &[
            DepartmentSpec {
                name: "1 - Accounting",
                teams: &[TeamSpec {
                    name: "1 - Payables",
                    roles: &[Role::Accountant],
                    weight: 1.2,
                    priority: 5,
                }],
            },
            DepartmentSpec {
                name: "2 - Purchasing",
                teams: &[TeamSpec {
                    name: "1 - Procurement",
                    roles: &[Role::PurchasingClerk],
                    weight: 1.0,
                    priority: 15,
                }],
            },
        ],
    },
    FunctionalUnitSpec {
        departments: &[
            DepartmentSpec {
                name: "1 - Sales",
                teams: &[
                    TeamSpec {
                        name: "1 - SalesEast",
                        roles: &[Role::Salesman],
                        weight: 2.0,
                        priority: 3,
                    },
                    TeamSpec {
                        name: "2 - SalesWest",
                        roles: &[Role::Salesman],
                        weight: 2.0,
                        priority: 6,
                    },
                ],
            },
            DepartmentSpec {
                name: "2 - Marketing",
                teams: &[TeamSpec {
                    name: "1 - Communications",
                    roles: &[Role::MarketingSpecialist],
                    weight: 1.0,
                    priority: 16,
                }],
            },
        ],
    },
];

/// Where a person sits. Heads of units have the lower levels empty (LDAP leaves them empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unit {
    /// Index into [`FUNCTIONAL_UNITS`] (`None` for the president).
    pub functional_unit: Option<usize>,
    pub department: Option<&'static str>,
    pub team: Option<&'static str>,
}

impl Unit {
    pub fn functional_unit_name(&self) -> &'static str {
        self.functional_unit
            .map_or("", |index| FUNCTIONAL_UNITS[index])
    }
}

/// One person (and their one account).
#[derive(Debug, Clone)]
pub struct Person {
    pub index: u32,
    /// Account id, e.g. `ACM2278`: initials and four digits.
    pub user_id: String,
    /// HR employee number, e.g. `E00017`.
    pub person_id: String,
    /// `First Middle Last`.
    pub name: String,
    pub email: String,
    /// Private mailboxes (`…@gmail.com`).
    pub home_emails: Vec<String>,
    pub role: Role,
    pub unit: Unit,
    pub supervisor: Option<u32>,
    pub employment_type: EmploymentType,
    /// The person's own PC number.
    pub pc: u16,
    pub hire_date: Date,
    pub notice_date: Option<Date>,
    /// Last day of employment (no activity after it).
    pub termination_date: Option<Date>,
    /// Big Five scores O, C, E, A, N (10–50).
    pub psychometric: [u8; 5],
    /// People this person mails (team, supervisor, friends).
    pub contacts: Vec<u32>,
    /// Outside work contacts (`First_Last@partner.com`).
    pub external_contacts: Vec<String>,
    pub habits: Habits,
}

impl Person {
    pub fn employed_on(&self, day: Date) -> bool {
        self.hire_date <= day && self.termination_date.is_none_or(|last| day <= last)
    }

    /// Whether the person's membership of a unit makes them a colleague of `other` (same team,
    /// or same department when either has no team).
    pub fn same_department(&self, other: &Person) -> bool {
        self.unit.functional_unit == other.unit.functional_unit
            && self.unit.department.is_some()
            && self.unit.department == other.unit.department
    }
}

/// A generic account that several people sign in with — a front desk's `reception` — not any
/// one person's. Its rows carry `user` = `people.len() + n` for the `n`-th such account
/// ([`Organisation::account_name`]).
#[derive(Debug, Clone)]
pub struct SharedAccount {
    /// The account name (`reception`, `uketsuke01`).
    pub name: String,
    pub display_name: String,
    /// The team's manager, whom the directory names as the account's owner.
    pub owner: u32,
    /// The desk staff on whose own PCs the account is used.
    pub desks: Vec<u32>,
    /// When the directory created it: `(day, second of the day)`, before the period.
    pub created: (Date, u32),
    /// `(day index, desk person)` of each session, sorted.
    pub uses: Vec<(u32, u32)>,
}

/// The whole organisation over the simulated period.
#[derive(Debug, Clone)]
pub struct Organisation {
    pub people: Vec<Person>,
    /// Shared (lab) PCs.
    pub shared_pcs: Vec<u16>,
    /// Generic accounts used at front desks (decided after the plan, by
    /// [`crate::inventory::Directory::draw`]; none before).
    pub shared_accounts: Vec<SharedAccount>,
    pub first_day: Date,
    pub last_day: Date,
}

impl Organisation {
    pub fn person(&self, index: u32) -> &Person {
        &self.people[index as usize]
    }

    /// The name of the account a row's `user` designates: a person's user id, or a shared
    /// account's name for indexes past the people.
    pub fn account_name(&self, user: u32) -> &str {
        let index = user as usize;
        match self.people.get(index) {
            Some(person) => &person.user_id,
            None => self
                .shared_accounts
                .get(index - self.people.len())
                .map_or("", |account| account.name.as_str()),
        }
    }

    /// Number of accounts rows can name: the people's and the shared ones.
    pub fn account_count(&self) -> usize {
        self.people.len() + self.shared_accounts.len()
    }

    /// Draws an organisation of `users` people.
    pub fn build(
        rng: &mut SimRng,
        users: u32,
        first_day: Date,
        last_day: Date,
    ) -> Result<Self, SimError> {
        if users < MIN_USERS {
            return Err(SimError::Config(format!(
                "--users must be at least {MIN_USERS}, got {users}"
            )));
        }
        let slots = plan_slots(users);
        let mut names = HashSet::new();
        let mut user_ids = HashSet::new();
        let mut pcs = HashSet::new();
        let mut people: Vec<Person> = Vec::with_capacity(slots.len());
        for (index, slot) in slots.iter().enumerate() {
            let (name, email) = loop {
                let first = *pick(rng, FIRST_NAMES);
                let middle = *pick(rng, FIRST_NAMES);
                let last = *pick(rng, LAST_NAMES);
                let name = format!("{first} {middle} {last}");
                if names.insert(name.clone()) {
                    break (name, format!("{first}.{middle}.{last}@{ORG_DOMAIN}"));
                }
            };
            let initials: String = name
                .split(' ')
                .filter_map(|part| part.chars().next())
                .collect();
            let user_id = loop {
                let candidate = format!("{initials}{:04}", rng.random_range(0..10_000));
                if user_ids.insert(candidate.clone()) {
                    break candidate;
                }
            };
            let pc = loop {
                let candidate: u16 = rng.random_range(0..10_000);
                if pcs.insert(candidate) {
                    break candidate;
                }
            };
            let mut parts = name.split(' ');
            let (first, last) = (parts.next().unwrap_or(""), parts.nth(1).unwrap_or(""));
            let mut home_emails = vec![format!(
                "{}.{}{}@{}",
                first.to_lowercase(),
                last.to_lowercase(),
                rng.random_range(1..99),
                pick(rng, HOME_MAIL_DOMAINS)
            )];
            if rng.random_bool(0.3) {
                home_emails.push(format!(
                    "{}{}@{}",
                    first.to_lowercase().chars().next().unwrap_or('x'),
                    last.to_lowercase(),
                    pick(rng, HOME_MAIL_DOMAINS)
                ));
            }
            let psychometric = [0; 5].map(|_: u8| rng.random_range(10..=50));
            let employment_type = match slot.role {
                Role::President | Role::Vp => EmploymentType::Executive,
                role if role.is_leader() => EmploymentType::Employee,
                _ => match rng.random_range(0..100) {
                    0..85 => EmploymentType::Employee,
                    85..91 => EmploymentType::Contract,
                    91..95 => EmploymentType::Temporary,
                    95..98 => EmploymentType::Contractor,
                    _ => EmploymentType::PartTime,
                },
            };
            let years_before = rng.random_range(30..4000i64);
            let hire_date = first_day
                .checked_sub(jiff::Span::new().days(years_before))
                .unwrap_or(first_day);
            let habits = Habits::draw(
                rng,
                slot.role,
                psychometric[1],
                psychometric[2],
                first_day,
                last_day,
            );
            let external_contacts = (0..rng.random_range(1..6))
                .map(|_| {
                    format!(
                        "{}_{}@{}",
                        pick(rng, FIRST_NAMES),
                        pick(rng, LAST_NAMES),
                        pick(rng, PARTNER_DOMAINS)
                    )
                })
                .collect();
            people.push(Person {
                index: index as u32,
                user_id,
                person_id: format!("E{:05}", index + 1),
                name,
                email,
                home_emails,
                role: slot.role,
                unit: slot.unit.clone(),
                supervisor: slot.supervisor,
                employment_type,
                pc,
                hire_date,
                notice_date: None,
                termination_date: None,
                psychometric,
                contacts: Vec::new(),
                external_contacts,
                habits,
            });
        }
        let shared_count = (users / 10).max(2);
        let mut shared_pcs = Vec::with_capacity(shared_count as usize);
        while shared_pcs.len() < shared_count as usize && pcs.len() < 10_000 {
            let candidate: u16 = rng.random_range(0..10_000);
            if pcs.insert(candidate) {
                shared_pcs.push(candidate);
            }
        }
        let mut organisation = Organisation {
            people,
            shared_pcs,
            shared_accounts: Vec::new(),
            first_day,
            last_day,
        };
        organisation.draw_contacts(rng);
        Ok(organisation)
    }

    /// Team mates, the supervisor, direct reports and a few friends anywhere.
    fn draw_contacts(&mut self, rng: &mut SimRng) {
        let count = self.people.len();
        for index in 0..count {
            let mut contacts: Vec<u32> = Vec::new();
            let me = &self.people[index];
            for other in &self.people {
                let close = other.index != me.index
                    && ((me.unit.team.is_some() && other.unit == me.unit)
                        || me.supervisor == Some(other.index)
                        || other.supervisor == Some(me.index));
                if close && contacts.len() < 25 {
                    contacts.push(other.index);
                }
            }
            let friends = 2 + usize::from(me.psychometric[2] / 8);
            for _ in 0..friends {
                let friend = rng.random_range(0..count) as u32;
                if friend != me.index && !contacts.contains(&friend) {
                    contacts.push(friend);
                }
            }
            self.people[index].contacts = contacts;
        }
    }
}

/// The smallest organisation the simulator builds.
pub const MIN_USERS: u32 = 20;

struct Slot {
    role: Role,
    unit: Unit,
    supervisor: Option<u32>,
}

/// Lays out positions: a president, a VP per functional unit, a director per department, a
/// manager per team, then staff spread over the teams by weight. Small organisations open
/// fewer teams (in priority order; IT infrastructure first).
fn plan_slots(users: u32) -> Vec<Slot> {
    let total_teams: usize = STRUCTURE
        .iter()
        .flat_map(|fu| fu.departments)
        .map(|d| d.teams.len())
        .sum();
    let open_teams = (users as usize / 30).clamp(2, total_teams);
    let mut slots = vec![Slot {
        role: Role::President,
        unit: Unit::default(),
        supervisor: None,
    }];
    let mut staff_teams: Vec<(u32, &TeamSpec, Unit)> = Vec::new();
    for (fu_index, fu) in STRUCTURE.iter().enumerate() {
        let fu_open = fu
            .departments
            .iter()
            .flat_map(|d| d.teams)
            .any(|t| usize::from(t.priority) < open_teams);
        if !fu_open {
            continue;
        }
        let vp = slots.len() as u32;
        slots.push(Slot {
            role: Role::Vp,
            unit: Unit {
                functional_unit: Some(fu_index),
                department: None,
                team: None,
            },
            supervisor: Some(0),
        });
        for department in fu.departments {
            if !department
                .teams
                .iter()
                .any(|t| usize::from(t.priority) < open_teams)
            {
                continue;
            }
            let director = slots.len() as u32;
            slots.push(Slot {
                role: Role::Director,
                unit: Unit {
                    functional_unit: Some(fu_index),
                    department: Some(department.name),
                    team: None,
                },
                supervisor: Some(vp),
            });
            for team in department
                .teams
                .iter()
                .filter(|t| usize::from(t.priority) < open_teams)
            {
                let unit = Unit {
                    functional_unit: Some(fu_index),
                    department: Some(department.name),
                    team: Some(team.name),
                };
                let manager = slots.len() as u32;
                slots.push(Slot {
                    role: Role::Manager,
                    unit: unit.clone(),
                    supervisor: Some(director),
                });
                staff_teams.push((manager, team, unit));
            }
        }
    }
    let staff = (users as usize).saturating_sub(slots.len());
    let total_weight: f32 = staff_teams.iter().map(|(_, team, _)| team.weight).sum();
    // Deterministic apportionment: each team gets its share, the remainder round-robin.
    let mut counts: Vec<usize> = staff_teams
        .iter()
        .map(|(_, team, _)| (staff as f32 * team.weight / total_weight).floor() as usize)
        .collect();
    let mut assigned: usize = counts.iter().sum();
    let mut next = 0;
    let teams = counts.len();
    while assigned < staff {
        counts[next % teams] += 1;
        assigned += 1;
        next += 1;
    }
    for ((manager, team, unit), count) in staff_teams.iter().zip(counts) {
        for member in 0..count {
            let role = team.roles[member % team.roles.len()];
            slots.push(Slot {
                role,
                unit: unit.clone(),
                supervisor: Some(*manager),
            });
        }
    }
    slots.truncate(users as usize);
    slots
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::rng::{Stream, derive};
    use jiff::civil::date;

    fn org(users: u32) -> Organisation {
        let mut rng = derive(1, Stream::Organisation, 0, 0);
        Organisation::build(&mut rng, users, date(2010, 1, 4), date(2010, 6, 30)).unwrap()
    }

    #[test]
    fn supervisors_form_a_tree_under_the_president() {
        let org = org(300);
        assert_eq!(org.people.len(), 300);
        assert_eq!(
            org.people.iter().filter(|p| p.supervisor.is_none()).count(),
            1
        );
        for person in &org.people {
            let mut steps = 0;
            let mut current = person.supervisor;
            while let Some(boss) = current {
                assert!(boss < person.index || org.person(boss).role.is_leader());
                current = org.person(boss).supervisor;
                steps += 1;
                assert!(steps < 6, "cycle above {}", person.user_id);
            }
        }
        assert!(org.people.iter().any(|p| p.role == Role::ItAdmin));
    }

    #[test]
    fn ids_names_and_pcs_are_unique_and_well_formed() {
        let org = org(500);
        let ids: HashSet<_> = org.people.iter().map(|p| p.user_id.clone()).collect();
        let pcs: HashSet<_> = org
            .people
            .iter()
            .map(|p| p.pc)
            .chain(org.shared_pcs.iter().copied())
            .collect();
        assert_eq!(ids.len(), 500);
        assert_eq!(pcs.len(), 500 + org.shared_pcs.len());
        for person in &org.people {
            let bytes = person.user_id.as_bytes();
            assert_eq!(bytes.len(), 7);
            assert!(
                bytes[..3].iter().all(u8::is_ascii_uppercase)
                    && bytes[3..].iter().all(u8::is_ascii_digit)
            );
        }
    }

    #[test]
    fn too_small_an_organisation_is_refused() {
        let mut rng = derive(1, Stream::Organisation, 0, 0);
        assert!(Organisation::build(&mut rng, 5, date(2010, 1, 4), date(2010, 2, 1)).is_err());
    }
}
