package ess

import (
	"context"
	"fmt"
)

// PageLimit is the largest page DescribeChannelOrganizations returns.
const PageLimit = 200

// MaxOffset is the largest Offset DescribeChannelOrganizations accepts.
const MaxOffset = 20000

// ErrListTruncated is wrapped by ListChannelOrganizations' error when the
// platform's Offset cap ends the listing before Total companies were seen;
// narrow the listing with statuses to see the rest.
var ErrListTruncated = fmt.Errorf("ess: listing stopped at the platform's offset cap of %d", MaxOffset)

// ListChannelOrganizations pages through all companies of agent.AppId (200 a page,
// optionally filtered by statuses) and calls fn once per page with companies not
// seen before; every company exactly once, whichever way the platform reads Offset
// (record offset or page index: detect once as the reference §4 explains, then
// advance; de-duplicate by OrganizationOpenId; stop on an empty page or at Total).
// It returns the number of Describe calls it made.
//
// agent must name a verified company and operator (the application's query
// identity). An error from fn stops the listing and is returned as is.
func (c *Client) ListChannelOrganizations(ctx context.Context, agent Agent, statuses []string, fn func([]ChannelOrganizationInfo) error) (calls int, err error) {
	seen := make(map[string]struct{})
	page := func(offset int64) (*DescribeChannelOrganizationsResponse, error) {
		off := offset
		calls++
		return c.DescribeChannelOrganizations(ctx, &DescribeChannelOrganizationsRequest{
			Agent:                   agent,
			Limit:                   PageLimit,
			AuthorizationStatusList: statuses,
			Offset:                  &off,
		})
	}
	// emit passes the companies not seen before to fn.
	emit := func(infos []ChannelOrganizationInfo) error {
		fresh := make([]ChannelOrganizationInfo, 0, len(infos))
		for _, o := range infos {
			if _, dup := seen[o.OrganizationOpenId]; dup {
				continue
			}
			seen[o.OrganizationOpenId] = struct{}{}
			fresh = append(fresh, o)
		}
		if len(fresh) == 0 {
			return nil
		}
		return fn(fresh)
	}
	done := func(r *DescribeChannelOrganizationsResponse) bool {
		return len(r.ChannelOrganizationInfos) == 0 || int64(len(seen)) >= r.Total
	}

	first, err := page(0)
	if err != nil {
		return calls, err
	}
	if err := emit(first.ChannelOrganizationInfos); err != nil {
		return calls, err
	}
	if done(first) {
		return calls, nil
	}

	// Offset=1 with the same Limit: a record offset overlaps page 0, a page
	// index does not.
	second, err := page(1)
	if err != nil {
		return calls, err
	}
	recordOffset := overlaps(first.ChannelOrganizationInfos, second.ChannelOrganizationInfos)
	if err := emit(second.ChannelOrganizationInfos); err != nil {
		return calls, err
	}
	last := second
	next := int64(2)
	if recordOffset {
		next = 1 + int64(len(second.ChannelOrganizationInfos))
	}
	for !done(last) {
		if next > MaxOffset {
			return calls, fmt.Errorf("%w: %d of %d companies seen", ErrListTruncated, len(seen), last.Total)
		}
		r, err := page(next)
		if err != nil {
			return calls, err
		}
		if err := emit(r.ChannelOrganizationInfos); err != nil {
			return calls, err
		}
		if recordOffset {
			next += int64(len(r.ChannelOrganizationInfos))
		} else {
			next++
		}
		last = r
	}
	return calls, nil
}

func overlaps(a, b []ChannelOrganizationInfo) bool {
	ids := make(map[string]struct{}, len(a))
	for _, o := range a {
		ids[o.OrganizationOpenId] = struct{}{}
	}
	for _, o := range b {
		if _, ok := ids[o.OrganizationOpenId]; ok {
			return true
		}
	}
	return false
}
