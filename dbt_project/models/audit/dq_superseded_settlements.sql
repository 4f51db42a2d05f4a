-- Grain: one row per valid, deduplicated bet.settled event that is not its bet's last
-- settlement (event_id). The last settlement by (occurred_at, event_id) supersedes the others
-- in every mart (int_bets); these rows are the settlements no mart counts, with the one that
-- replaced them, so an operator can see resettlements and re-sent settlements.
with

settlements as (

    {{ valid_first_copies(['bet.settled'], ['bet_id', 'stake_minor', 'win_minor', 'currency']) }}

),

bets as (

    select * from {{ ref('int_bets') }}

),

final as (

    select
        settlements.event_id,
        settlements.bet_id,
        settlements.occurred_at,
        settlements.brand_id,
        settlements.stake_minor,
        settlements.win_minor,
        settlements.currency,
        settlements.batch_id,
        bets.settled_event_id as superseded_by_event_id,
        bets.settled_at as superseded_by_occurred_at

    from settlements
    inner join bets
        on bets.bet_id = settlements.bet_id
    where settlements.event_id <> bets.settled_event_id

)

select * from final
