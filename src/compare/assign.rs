//! One-to-one assignment of a collection's actual members to its documented ones: the
//! assignment of least total cost that pairs as many members as there can be, so a
//! missing member and a duplicate cannot both hide behind "each to its closest".

/// `cost[i][j]`: the cost of actual member `i` standing for documented member `j`.
/// Returns, per actual member, the documented member it stands for (`None` for the
/// actual members left over when there are more of them than documented ones).
pub fn assign(cost: &[Vec<u64>]) -> Vec<Option<usize>> {
    let n = cost.len();
    let m = cost.first().map_or(0, Vec::len);
    if n == 0 || m == 0 {
        return vec![None; n];
    }
    if m <= 12 {
        exact(cost, n, m)
    } else {
        greedy(cost, n, m)
    }
}

/// Dynamic programming over the set of documented members already taken: exact for the
/// sizes documentation examples print.
fn exact(cost: &[Vec<u64>], n: usize, m: usize) -> Vec<Option<usize>> {
    // Leaving an actual member unpaired costs more than any pairing, so as many pairs as
    // possible are made.
    let skip = u64::MAX / 4 / (n as u64 + 1);
    let full = 1usize << m;
    let inf = u64::MAX;
    let mut dp = vec![inf; full];
    dp[0] = 0;
    // choice[i][mask]: what actual member i did to reach `mask` (m = unpaired).
    let mut choice = vec![vec![u8::MAX; full]; n];
    for (i, row) in cost.iter().enumerate() {
        let mut next = vec![inf; full];
        for mask in 0..full {
            let base = dp[mask];
            if base == inf {
                continue;
            }
            let unpaired = base.saturating_add(skip);
            if unpaired < next[mask] {
                next[mask] = unpaired;
                choice[i][mask] = m as u8;
            }
            for (j, c) in row.iter().enumerate().take(m) {
                if mask & (1 << j) != 0 {
                    continue;
                }
                let to = mask | (1 << j);
                let v = base.saturating_add((*c).min(skip - 1));
                if v < next[to] {
                    next[to] = v;
                    choice[i][to] = j as u8;
                }
            }
        }
        dp = next;
    }
    let mut mask = (0..full).min_by_key(|&k| dp[k]).unwrap_or(0);
    let mut out = vec![None; n];
    for i in (0..n).rev() {
        let c = choice[i][mask] as usize;
        if c < m {
            out[i] = Some(c);
            mask &= !(1 << c);
        }
    }
    out
}

/// Cheapest pairs first, for collections too large to assign exactly.
fn greedy(cost: &[Vec<u64>], n: usize, m: usize) -> Vec<Option<usize>> {
    let mut pairs: Vec<(u64, usize, usize)> = Vec::with_capacity(n * m);
    for (i, row) in cost.iter().enumerate() {
        for (j, c) in row.iter().enumerate() {
            pairs.push((*c, i, j));
        }
    }
    pairs.sort_unstable();
    let mut out = vec![None; n];
    let mut taken = vec![false; m];
    for (_, i, j) in pairs {
        if out[i].is_none() && !taken[j] {
            out[i] = Some(j);
            taken[j] = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cheapest_whole_assignment_wins_over_each_to_its_closest() {
        // Both actual members are closest to documented 0; only one may stand for it.
        let cost = vec![vec![1, 5], vec![2, 100]];
        assert_eq!(assign(&cost), vec![Some(1), Some(0)]);
    }

    #[test]
    fn more_actual_members_than_documented_leave_the_costliest_over() {
        let cost = vec![vec![3], vec![1], vec![2]];
        assert_eq!(assign(&cost), vec![None, Some(0), None]);
    }

    #[test]
    fn fewer_actual_members_pair_with_their_best() {
        let cost = vec![vec![9, 1, 9]];
        assert_eq!(assign(&cost), vec![Some(1)]);
    }

    #[test]
    fn large_collections_are_assigned_greedily_one_to_one() {
        let m = 14;
        let cost: Vec<Vec<u64>> = (0..m)
            .map(|i| (0..m).map(|j| if i == j { 0 } else { 10 }).collect())
            .collect();
        let got = assign(&cost);
        assert_eq!(got, (0..m).map(Some).collect::<Vec<_>>());
    }
}
